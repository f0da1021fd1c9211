"""What every format's ``export(job)`` gets from ``export_all``, and the one way an artifact lands.

    with job.stage("saved_model", "saved_model", directory=True) as stage:
        write_saved_model(job.model, stage.path, ...)                  # into the staged path
        stage.verify(SavedModelArtifact(stage.path), "float32")        # against the Keras model
    # here it is in place: job.paths["saved_model"], job.artifacts["saved_model"] (the manifest entry)

A stage that raises (a failed write or verification) or was never verified leaves
nothing at the final path; an earlier file there stays as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time

import numpy as np

from keras_resnet import files

from .camera import artifact_input_shape, rgb_input_model
from .known_outputs import KnownOutputs
from .timing import StageTimes
from .verify import verify


@dataclasses.dataclass(eq=False)
class ExportJob:
    """The float32 model, the checked options and data, and what has landed so far."""

    options: object  # ExportOptions
    out_dir: str
    model: object  # the float32 Keras model
    class_names: list
    input_shape: tuple
    verify_images: np.ndarray  # held-out (or synthetic) images every artifact is checked on
    reference: np.ndarray  # the Keras model's probabilities on them, computed on the CPU
    synthetic: bool
    info: dict  # what every artifact's metadata starts with: class names, source, input shape, version, data
    calibration: object = None  # a CalibrationSet, when a full-integer mode or variant needs one
    calibration_info: dict | None = None
    training_images: np.ndarray | None = None  # for the fine-tuned variants
    training_labels: np.ndarray | None = None
    paths: dict = dataclasses.field(default_factory=dict)  # by artifact key, in the order they landed
    artifacts: dict = dataclasses.field(default_factory=dict)  # manifest entries by artifact key
    optimizations: dict = dataclasses.field(default_factory=dict)  # what made each fine-tuned variant
    models: dict = dataclasses.field(default_factory=dict)  # fine-tuned tf_keras models by variant
    rgb_input: bool = False  # artifacts take RGB frames and convert them to the model's gray channel (camera)
    times: StageTimes = dataclasses.field(default_factory=StageTimes)  # seconds per stage (export.json)
    verify_indices: np.ndarray | None = None  # where the verification images sit in the held-out split
    reference_seconds: float = 0.0  # what the reference took
    verified: dict = dataclasses.field(default_factory=dict)  # final path -> its answers on them (KnownOutputs)

    @property
    def artifact_input_shape(self) -> tuple:
        """``(H, W, C)`` every artifact takes: the model's, or RGB with ``rgb_input`` (``camera``)."""
        return artifact_input_shape(self.input_shape, self.rgb_input)

    def keras_model_to_export(self):
        """The float32 Keras model as the artifacts compute it (behind the RGB-to-gray step with ``rgb_input``)."""
        return rgb_input_model(self.model) if self.rgb_input else self.model

    @contextlib.contextmanager
    def stage(self, key: str, name: str, directory: bool = False):
        """Yields a ``Stage`` for ``out_dir/name``; once the block verified it, moves it into place and records
        it under ``key``."""
        began = time.perf_counter()
        final = os.path.join(self.out_dir, name)
        with files.atomic_path(final, directory=directory) as staged:
            stage = Stage(self, staged, final)
            yield stage
            if stage.verification is None:
                raise RuntimeError(f"{key} was written but not verified: call stage.verify() before it lands")
        self.paths[key] = final
        self.artifacts[key] = {"path": final, "size_bytes": files.path_size(final),
                               "verification": stage.verification, "seconds": round(time.perf_counter() - began, 2)}


@dataclasses.dataclass(eq=False)
class Stage:
    """One artifact being written: ``path`` is the staged (temporary) path, ``final`` where it will land."""

    job: ExportJob
    path: str
    final: str
    verification: dict | None = None

    def verify(self, artifact, mode: str, expected=None, label: str | None = None) -> dict:
        """Runs the staged ``artifact`` on the job's images against ``expected`` (default: the Keras model);
        raises ``VerificationError`` when it does not reproduce them closely enough."""
        import tensorflow as tf

        job = self.job
        reference = job.reference if expected is None else expected
        began = time.perf_counter()
        with tf.device("/CPU:0"), job.times.stage(f"verify {label or mode}"):  # the reference's device (pipeline)
            result, probabilities = verify(artifact, job.verify_images, reference, mode, self.final,
                                           job.options.min_agreement, job.options.progress, label=label)
        if not job.synthetic:  # the report card reads these images first and takes these answers
            job.verified[self.final] = KnownOutputs(job.verify_images, probabilities, time.perf_counter() - began)
        result["synthetic"] = job.synthetic
        self.verification = result
        return result
