"""Each artifact, right after it is written and before it is moved into place, is loaded in
its real runtime, run on held-out images and compared with the float32 Keras model.

Float artifacts must match the Keras probabilities to ``FLOAT32_TOLERANCE``
(float16 weights: ``FLOAT16_TOLERANCE``); quantized ones must agree on the top-1
class for at least ``min_agreement`` of the images. A failure raises, and the
staged file is discarded: nothing appears at the final path.
"""

from __future__ import annotations

import numpy as np

from keras_resnet.errors import KerasResnetError

FLOAT32_TOLERANCE = 1e-4
# float16 rounds every weight to 11 significant bits (relative error <= 2**-11 ~ 4.9e-4);
# through a network that moves probabilities by up to a few 1e-3 (measured max over
# held-out images: 4e-4 for a depth-8 net, 1.7e-3 and 2.7e-3 for two ResNet-20s over
# 1,000 images). 1e-2 leaves room for deeper nets while still catching a wrong graph,
# whose errors are of order 0.1-1.
FLOAT16_TOLERANCE = 1e-2
DEFAULT_MIN_AGREEMENT = 0.8  # catches broken conversions (chance is 1/classes), not honest quantization loss
DEFAULT_VERIFY_IMAGES = 256
MAX_VERIFY_IMAGES = 5000  # held in memory with the Keras model's outputs while every artifact is checked


class VerificationError(KerasResnetError):
    """An artifact that does not reproduce the Keras model closely enough."""


def tolerance_for(mode: str) -> float | None:
    """The max |difference| allowed on probabilities, or ``None`` for quantized modes."""
    return {"float32": FLOAT32_TOLERANCE, "float16": FLOAT16_TOLERANCE}.get(mode)


def compare(probabilities, reference, mode: str, min_agreement: float = DEFAULT_MIN_AGREEMENT) -> dict:
    """Max |difference| and top-1 agreement of ``probabilities`` against the ``reference``."""
    probabilities = np.asarray(probabilities, np.float32)
    reference = np.asarray(reference, np.float32)
    if probabilities.shape != reference.shape:
        return {"passed": False, "images": int(len(reference)),
                "problem": f"output shape {probabilities.shape} differs from the Keras model's {reference.shape}"}
    finite = bool(np.all(np.isfinite(probabilities)))
    difference = float(np.max(np.abs(probabilities - reference))) if probabilities.size else 0.0
    agreement = float(np.mean(probabilities.argmax(-1) == reference.argmax(-1))) if len(reference) else 1.0
    tolerance = tolerance_for(mode)
    result = {"images": int(len(reference)), "max_abs_diff": difference, "top1_agreement": agreement,
              "tolerance": tolerance, "min_agreement": None if tolerance is not None else min_agreement}
    if not finite:
        result["problem"] = "outputs are not finite (NaN or inf)"
    elif tolerance is not None and difference > tolerance:
        result["problem"] = (f"max |difference| on probabilities {difference:.2e} exceeds the "
                             f"{mode} tolerance {tolerance:.0e}")
    elif tolerance is None and agreement < min_agreement:
        result["problem"] = (f"top-1 agreement with the float model {agreement:.1%} is below "
                             f"{min_agreement:.0%}")
    result["passed"] = "problem" not in result
    return result


def verify(artifact, images, reference, mode: str, final_path: str, min_agreement=DEFAULT_MIN_AGREEMENT,
           progress: bool = False, label: str | None = None) -> tuple[dict, np.ndarray]:
    """Runs a loaded, staged artifact on ``images``; raises ``VerificationError`` if it fails. Returns the
    comparison and the artifact's probabilities (the report card reuses them: ``report.KnownOutputs``)."""
    label = label or f"{artifact.kind} {mode}"
    probabilities = artifact.predict(images, progress=progress, label=f"Verifying {label}")
    result = compare(probabilities, reference, mode, min_agreement)
    if not result["passed"]:
        hint = ("lower --min-agreement if this loss is acceptable, or calibrate on more images"
                if "agreement" in result["problem"] else "report this model; export the other modes meanwhile")
        raise VerificationError(
            f"{label} failed verification ({result['problem']} on {result['images']} held-out images); "
            f"nothing was written at '{final_path}': {hint}"
        )
    return result, probabilities
