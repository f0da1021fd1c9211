"""Learning-rate schedules: the papers' step schedule, cosine, constant; each with optional linear warm-up.

He et al. 2015 (CIFAR-10): lr 0.1, divided by 10 at 32k and 48k of 64k
iterations, i.e. at 50 % and 75 % of training; ResNet-110 warms up at 0.01
first. ImageNet: divided by 10 when the error plateaus (about every 30 epochs).
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_resnet")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` (step | cosine | constant) over ``total_steps``, after ``warmup_steps`` of linear warm-up.

    step: ``learning_rate * factor ** k`` after the k-th milestone (fractions of
    ``total_steps``). cosine: half a cosine from ``learning_rate`` down to 0 over
    the steps after warm-up. During warm-up the rate rises linearly from
    ``learning_rate / warmup_steps`` to ``learning_rate``. Steps past
    ``total_steps`` keep the final rate.
    """

    def __init__(self, learning_rate, total_steps, schedule="step", warmup_steps=0,
                 milestones=(0.5, 0.75), factor=0.1):
        super().__init__()
        if schedule not in ("step", "cosine", "constant"):
            raise ValueError(f"unknown schedule {schedule!r}")
        self.learning_rate = float(learning_rate)
        self.total_steps = max(1, int(total_steps))
        self.schedule = schedule
        self.warmup_steps = max(0, int(warmup_steps))
        self.milestones = [float(m) for m in milestones]
        self.factor = float(factor)

    def milestone_steps(self) -> list[int]:
        """The steps at which the step schedule divides the rate."""
        return [int(round(m * self.total_steps)) for m in self.milestones]

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
            warm = base * (step + 1.0) / float(self.warmup_steps)
            rate = ops.where(step < self.warmup_steps, warm, rate)
        return rate

    def get_config(self):
        return {
            "learning_rate": self.learning_rate, "total_steps": self.total_steps, "schedule": self.schedule,
            "warmup_steps": self.warmup_steps, "milestones": self.milestones, "factor": self.factor,
        }


def scaled_learning_rate(learning_rate: float, global_batch: int, reference_batch: int) -> float:
    """The linear scaling rule (Goyal et al. 2017): the rate grows with the global batch."""
    return float(learning_rate) * global_batch / reference_batch
