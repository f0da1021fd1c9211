"""Mixed precision and XLA: chosen for the hardware, overridable, and scoped to one training run.

auto precision: ``mixed_float16`` on GPUs of compute capability >= 7.0 (tensor
cores), ``mixed_bfloat16`` on TPUs and on CPUs with AMX-BF16 or AVX512-BF16
(1.4-1.6x faster training measured on such a CPU), ``float32`` otherwise.
auto XLA: on with GPUs and one device (Keras itself turns XLA off under
tf.distribute), off on CPU, where it measured slower.
"""

from __future__ import annotations

import contextlib

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
MIN_FLOAT16_COMPUTE_CAPABILITY = (7, 0)


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags Linux reports (empty on other systems)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


SPEED_FLAGS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")  # what decides CPU speed here; benchmarks print them


def speed_flags() -> list[str]:
    """Which of ``SPEED_FLAGS`` this CPU has, for benchmark records (machines differ: AMX or not)."""
    return sorted(cpu_flags() & set(SPEED_FLAGS))


def cpu_supports_bfloat16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes bfloat16 natively (AMX-BF16 or AVX512-BF16)."""
    return bool(cpu_flags(cpuinfo_path) & set(BF16_CPU_FLAGS))


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """``(major, minor)`` of every visible GPU."""
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        capabilities.append(tuple(capability) if capability else (0, 0))
    return capabilities


def choose_precision(requested: str, strategy_kind: str, gpu_capabilities=None, bf16_cpu=None) -> str:
    """The dtype policy name for ``requested`` (auto | float32 | mixed_float16 | mixed_bfloat16)."""
    if requested != "auto":
        return requested
    if strategy_kind == "tpu":
        return "mixed_bfloat16"
    capabilities = gpu_compute_capabilities() if gpu_capabilities is None else gpu_capabilities
    if capabilities:
        if all(c >= MIN_FLOAT16_COMPUTE_CAPABILITY for c in capabilities):
            return "mixed_float16"
        return "float32"
    if cpu_supports_bfloat16() if bf16_cpu is None else bf16_cpu:
        return "mixed_bfloat16"
    return "float32"


def choose_jit_compile(requested: str, strategy_kind: str, has_gpu=None) -> bool:
    """Whether to compile the training step with XLA (auto: GPU with the default strategy only)."""
    if requested in ("on", "off"):
        return requested == "on"
    if has_gpu is None:
        import tensorflow as tf

        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    return bool(has_gpu) and strategy_kind == "default"


@contextlib.contextmanager
def dtype_policy(name: str):
    """Sets the global Keras dtype policy to ``name`` and restores the caller's on exit."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
