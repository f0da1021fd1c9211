"""Training: ``train`` (Python) and ``keras-resnet train`` (CLI) over ``model.fit`` and ``tf.distribute``.

The package's one training loop: the experiments train every model through it too.
One concern per module: ``config`` (options, YAML/JSON), ``strategy`` (which
tf.distribute strategy), ``precision`` (mixed precision, XLA), ``optimizers``
(SGD/AdamW, weight decay on kernels only), ``schedules`` (step, cosine, linear or
constant warm-up), ``callbacks`` (NaN guard, per-epoch evaluation, history, resumable checkpoints),
``history_plot``, ``multiworker_fix`` (keras-team/keras#20585), ``transfer`` (pretrained backbone, new head, frozen then
fine-tuned) and ``train`` (the run itself).
"""

from keras_resnet.training.config import TrainConfig, load_config_file, resolve_config
from keras_resnet.training.precision import choose_jit_compile, choose_precision, cpu_supports_bfloat16
from keras_resnet.training.callbacks import EpochEvaluation
from keras_resnet.training.schedules import WarmupSchedule, run_length, scaled_learning_rate, schedule_for
from keras_resnet.training.strategy import StrategyChoice, choose_strategy
from keras_resnet.training.train import TrainingDiverged, TrainResult, epoch_steps, resolve_augment, train
from keras_resnet.zoo import build_network

__all__ = [
    "EpochEvaluation", "TrainConfig", "TrainResult", "TrainingDiverged", "StrategyChoice", "WarmupSchedule",
    "build_network", "choose_jit_compile", "choose_precision", "choose_strategy", "cpu_supports_bfloat16",
    "epoch_steps", "load_config_file", "resolve_augment", "resolve_config", "run_length", "scaled_learning_rate",
    "schedule_for", "train",
]
