"""Which ``tf.distribute`` strategy to train with: found automatically, overridable.

auto: a TPU when a TPU resolver finds one; ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` names more than one worker; ``MirroredStrategy`` with more than
one GPU; otherwise the default (one device) strategy.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import warnings

from keras_resnet.errors import KerasResnetError, first_line

# Environment variables that mean "a TPU is attached or named" (Cloud TPU, TPU VM, Colab).
TPU_ENVIRONMENT = ("TPU_NAME", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_ID", "COLAB_TPU_ADDR")


@dataclasses.dataclass
class StrategyChoice:
    """The strategy and what the rest of training needs to know about it."""

    strategy: object  # tf.distribute.Strategy
    kind: str  # default | mirrored | multi_worker | tpu
    replicas: int
    is_chief: bool = True  # only the chief writes the run directory
    worker_index: int = 0

    @property
    def distributed(self) -> bool:
        return self.kind != "default"


def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` environment variable ({} when unset)."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise KerasResnetError("TF_CONFIG is not valid JSON: fix it or unset it") from None
    if not isinstance(value, dict):
        raise KerasResnetError("TF_CONFIG must be a JSON object with 'cluster' and 'task': fix it or unset it")
    return value


def cluster_workers(config: dict) -> int:
    """How many machines (chief + workers) ``TF_CONFIG`` names."""
    cluster = config.get("cluster") or {}
    return len(cluster.get("worker") or []) + len(cluster.get("chief") or [])


def _tpu_hint() -> bool:
    """Whether this process looks like it can see a TPU (named in the environment or a TPU VM)."""
    return any(os.environ.get(name) for name in TPU_ENVIRONMENT) or bool(glob.glob("/dev/accel[0-9]*"))


def _tpu_strategy(required: bool):
    import tensorflow as tf

    try:
        name = os.environ.get("TPU_NAME")
        if name is None and glob.glob("/dev/accel[0-9]*"):
            name = "local"  # TPU VM: the chips are attached to this host
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as error:  # resolver or connection failures come in many types
        if required:
            raise KerasResnetError(
                f"strategy 'tpu' found no usable TPU ({type(error).__name__}: {first_line(error)}): "
                "set TPU_NAME or run on a TPU VM, or use --strategy auto"
            ) from None
        warnings.warn(f"a TPU looked available but could not be used ({error}); training without it", stacklevel=3)
        return None


def _multi_worker_strategy():
    import tensorflow as tf

    config = tf_config()
    if cluster_workers(config) < 1 or "task" not in config:
        raise KerasResnetError(
            "strategy 'multi_worker' needs TF_CONFIG with a cluster of workers and this process's task: set it "
            "on every worker (see the tf.distribute multi-worker guide)"
        )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        if "initialized" in str(error) or "startup" in str(error):
            raise KerasResnetError(
                "multi-worker training must be set up before TensorFlow runs anything in this process: "
                "call train() before other TensorFlow code (the CLI does)"
            ) from None
        raise


def _mirrored_devices() -> list[str]:
    """All GPUs; without GPUs, every logical CPU device (several only when configured, as in tests)."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


def _choice(strategy, kind) -> StrategyChoice:
    is_chief, index = True, 0
    if kind == "multi_worker":
        extended = strategy.extended
        is_chief = bool(getattr(extended, "should_checkpoint", True))
        task = tf_config().get("task") or {}
        index = int(task.get("index", 0))
    return StrategyChoice(strategy, kind, int(strategy.num_replicas_in_sync), is_chief, index)


def choose_strategy(name: str = "auto") -> StrategyChoice:
    """The strategy for ``name`` (auto | default | mirrored | multi_worker | tpu)."""
    import tensorflow as tf

    if name not in ("auto", "default", "mirrored", "multi_worker", "tpu"):
        raise KerasResnetError(
            f"strategy={name!r} is not supported: choose auto, default, mirrored, multi_worker or tpu"
        )
    if name == "tpu" or (name == "auto" and _tpu_hint()):
        strategy = _tpu_strategy(required=name == "tpu")
        if strategy is not None:
            return _choice(strategy, "tpu")
    if name == "multi_worker" or (name == "auto" and cluster_workers(tf_config()) > 1):
        return _choice(_multi_worker_strategy(), "multi_worker")
    if name == "mirrored":
        return _choice(tf.distribute.MirroredStrategy(_mirrored_devices()), "mirrored")
    if name == "auto" and len(tf.config.list_physical_devices("GPU")) > 1:
        return _choice(tf.distribute.MirroredStrategy(), "mirrored")
    return _choice(tf.distribute.get_strategy(), "default")


def replica_average(strategy, variables):
    """A function that sets every replica's copy of ``variables`` to their mean over all replicas.

    Keras 3 creates BatchNorm moving statistics with aggregation "none": under
    tf.distribute each replica (and each worker) updates its own copy from its
    own part of the batch, so the copies drift apart and a saved model holds
    one replica's. Averaging them before each checkpoint makes every worker hold
    the same model, estimated from the whole global batch. Workers must all call it.
    """
    import tensorflow as tf

    variables = [v for v in variables if v.dtype in ("float16", "bfloat16", "float32", "float64")]
    if not variables or strategy.num_replicas_in_sync == 1:
        return lambda: None

    def replica_step():
        context = tf.distribute.get_replica_context()
        values = []
        for variable in variables:
            # Placed on the variable's device: with one device per worker the collective needs it explicit.
            with tf.device(variable.value.device):
                values.append(tf.identity(variable.value))
        means = context.all_reduce(tf.distribute.ReduceOp.MEAN, values)
        for variable, mean in zip(variables, means):
            variable.assign(mean)

    @tf.function
    def average():
        strategy.run(replica_step)

    return average
