"""Learning-rate schedules: the papers' step schedule, cosine, constant; each with optional warm-up.

He et al. 2015 (CIFAR-10): lr 0.1, divided by 10 at 32k and 48k of 64k
iterations, i.e. at 50 % and 75 % of training; ResNet-110 warms up at a
constant 0.01 for 400 iterations first. ImageNet: divided by 10 when the error
plateaus (about every 30 epochs). Goyal et al. 2017 warm up linearly instead.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_resnet.errors import KerasResnetError


@keras.saving.register_keras_serializable(package="keras_resnet")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` (step | cosine | constant) over ``total_steps``, after ``warmup_steps`` of warm-up.

    step: ``learning_rate * factor ** k`` from the k-th milestone on (fractions of
    ``total_steps``). cosine: half a cosine from ``learning_rate`` down to 0 over
    the steps after warm-up. During warm-up the rate is ``warmup_learning_rate``
    when given (constant, as He et al. for ResNet-110), else it rises linearly from
    ``learning_rate / warmup_steps`` to ``learning_rate``. Steps past
    ``total_steps`` keep the final rate.
    """

    def __init__(self, learning_rate, total_steps, schedule="step", warmup_steps=0,
                 milestones=(0.5, 0.75), factor=0.1, warmup_learning_rate=None):
        super().__init__()
        if schedule not in ("step", "cosine", "constant"):
            raise ValueError(f"unknown schedule {schedule!r}")
        self.learning_rate = float(learning_rate)
        self.total_steps = max(1, int(total_steps))
        self.schedule = schedule
        self.warmup_steps = max(0, int(warmup_steps))
        self.milestones = [float(m) for m in milestones]
        self.factor = float(factor)
        self.warmup_learning_rate = None if warmup_learning_rate is None else float(warmup_learning_rate)

    def milestone_steps(self) -> list[int]:
        """The steps at which the step schedule divides the rate: strictly increasing, even when a very short
        run rounds two milestones to the same step."""
        steps = []
        for milestone in self.milestones:
            steps.append(max(int(round(milestone * self.total_steps)), steps[-1] + 1 if steps else 0))
        return steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = ops.convert_to_tensor(self.learning_rate, "float32")
        if self.schedule == "step":
            rate = base
            for boundary in self.milestone_steps():
                rate = ops.where(step >= boundary, rate * self.factor, rate)
        elif self.schedule == "cosine":
            span = float(max(1, self.total_steps - self.warmup_steps))
            progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            rate = 0.5 * base * (1.0 + ops.cos(math.pi * progress))
        else:
            rate = base
        if self.warmup_steps:
            if self.warmup_learning_rate is None:
                warm = base * (step + 1.0) / float(self.warmup_steps)
            else:
                warm = ops.convert_to_tensor(self.warmup_learning_rate, "float32")
            rate = ops.where(step < self.warmup_steps, warm, rate)
        return rate

    def get_config(self):
        return {
            "learning_rate": self.learning_rate, "total_steps": self.total_steps, "schedule": self.schedule,
            "warmup_steps": self.warmup_steps, "milestones": self.milestones, "factor": self.factor,
            "warmup_learning_rate": self.warmup_learning_rate,
        }


def scaled_learning_rate(learning_rate: float, global_batch: int, reference_batch: int) -> float:
    """The linear scaling rule (Goyal et al. 2017): the rate grows with the global batch."""
    return float(learning_rate) * global_batch / reference_batch


def run_length(steps_per_epoch: int, epochs: int, total_steps: int | None = None) -> tuple[int, int]:
    """``(epochs, schedule steps)`` of one training phase. ``total_steps`` (the papers count iterations)
    decides both when given: enough epochs to reach it, the last one completed at the final rate."""
    if total_steps:
        return math.ceil(total_steps / steps_per_epoch), int(total_steps)
    return epochs, epochs * steps_per_epoch


def schedule_for(config, learning_rate: float, steps_per_epoch: int, epochs: int, global_batch: int):
    """The :class:`WarmupSchedule` of a phase of ``epochs`` epochs at ``learning_rate`` (already scaled to the
    global batch) for a validated ``TrainConfig``; ``warmup_learning_rate`` is scaled as the learning rate is."""
    _, total = run_length(steps_per_epoch, epochs, config.total_steps)
    warmup = config.warmup_steps or round(config.warmup_epochs * steps_per_epoch)
    if warmup >= total:
        raise KerasResnetError(f"the warm-up ({warmup} steps) is not shorter than training ({total} steps): "
                               "shorten warmup_steps (or warmup_epochs), or train longer")
    warmup_rate = config.warmup_learning_rate
    if warmup_rate is not None:
        warmup_rate = scaled_learning_rate(warmup_rate, global_batch, config.reference_batch_size)
    return WarmupSchedule(learning_rate, total, config.schedule, warmup_steps=warmup,
                          milestones=config.step_milestones, factor=config.step_factor,
                          warmup_learning_rate=warmup_rate)
