"""Training: ``train`` (Python) and ``keras-resnet train`` (CLI) over ``model.fit`` and ``tf.distribute``.

One concern per module: ``config`` (options, YAML/JSON), ``strategy`` (which
tf.distribute strategy), ``precision`` (mixed precision, XLA), ``optimizers``
(SGD/AdamW, weight decay on kernels only), ``schedules`` (step, cosine,
warm-up), ``callbacks`` (NaN guard, history, resumable checkpoints),
``history_plot``, ``multiworker_fix`` (keras-team/keras#20585), ``transfer`` (pretrained backbone, new head, frozen then
fine-tuned) and ``train`` (the run itself).
"""

from keras_resnet.training.config import TrainConfig, load_config_file, resolve_config
from keras_resnet.training.precision import choose_jit_compile, choose_precision, cpu_supports_bfloat16
from keras_resnet.training.schedules import WarmupSchedule, scaled_learning_rate
from keras_resnet.training.strategy import StrategyChoice, choose_strategy
from keras_resnet.training.train import TrainResult, train
from keras_resnet.zoo import build_network

__all__ = [
    "TrainConfig", "TrainResult", "StrategyChoice", "WarmupSchedule", "build_network", "choose_jit_compile",
    "choose_precision", "choose_strategy", "cpu_supports_bfloat16", "load_config_file", "resolve_config",
    "scaled_learning_rate", "train",
]
