"""The run directory: the one contract between training (which writes it) and export, evaluate
and the experiments (which read it).

    runs/resnet20/
      config.json     the resolved training options (+ "resolved": strategy, precision, classes ...)
      labels.txt      class names, one per line, in label order
      history.json    per-epoch metrics; history.png draws them
      logs/           TensorBoard
      checkpoints/    resumable checkpoints (checkpoint.json names the newest complete one)
      data.json       the data recipe and the fingerprint of the held-out split (see ``write_data``)
      model.keras     the final float32 model
      metrics.json    test metrics; written last, so its presence marks a finished run

Every other module names these files through this one.
"""

from __future__ import annotations

import dataclasses
import os

from keras_resnet.files import read_json, write_json

CONFIG_FILE = "config.json"
LABELS_FILE = "labels.txt"
HISTORY_FILE = "history.json"
HISTORY_PLOT_FILE = "history.png"
LOGS_DIR = "logs"
CHECKPOINTS_DIR = "checkpoints"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
DATA_FILE = "data.json"

# The training options that decide which images a run saw: export and evaluate rebuild its splits from them.
DATA_RECIPE_KEYS = ("data", "data_dir", "image_size", "channels", "validation_split", "seed", "on_bad_image",
                    "label_offset", "stream")


@dataclasses.dataclass(frozen=True)
class RunDirectory:
    """Paths and readers/writers of one run directory."""

    path: str

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def config_path(self) -> str:
        return self.file(CONFIG_FILE)

    @property
    def labels_path(self) -> str:
        return self.file(LABELS_FILE)

    @property
    def history_path(self) -> str:
        return self.file(HISTORY_FILE)

    @property
    def history_plot_path(self) -> str:
        return self.file(HISTORY_PLOT_FILE)

    @property
    def logs_dir(self) -> str:
        return self.file(LOGS_DIR)

    @property
    def checkpoints_dir(self) -> str:
        return self.file(CHECKPOINTS_DIR)

    @property
    def model_path(self) -> str:
        return self.file(MODEL_FILE)

    @property
    def metrics_path(self) -> str:
        return self.file(METRICS_FILE)

    def has_model(self) -> bool:
        return os.path.isdir(self.path) and os.path.isfile(self.model_path)

    def is_finished(self) -> bool:
        metrics = self.read_metrics()
        return bool(isinstance(metrics, dict) and metrics.get("completed"))

    def read_config(self) -> dict | None:
        config = read_json(self.config_path)
        return config if isinstance(config, dict) else None

    def read_metrics(self) -> dict | None:
        metrics = read_json(self.metrics_path)
        return metrics if isinstance(metrics, dict) else None

    def read_labels(self) -> list[str] | None:
        from keras_resnet.data.labels import read_labels

        return read_labels(self.labels_path) if os.path.isfile(self.labels_path) else None

    @property
    def data_path(self) -> str:
        return self.file(DATA_FILE)

    def read_data(self) -> dict | None:
        """``data.json``: ``{"recipe": {...}, "heldout": {"split", "count", "sha256"} or None}``, or None."""
        data = read_json(self.data_path)
        return data if isinstance(data, dict) else None

    def data_recipe(self) -> dict | None:
        """The data options the run trained with (``DATA_RECIPE_KEYS``): from ``data.json``, else (runs
        made before it existed) from ``config.json``; None when neither names a dataset."""
        recorded = (self.read_data() or {}).get("recipe")
        config = recorded if isinstance(recorded, dict) else self.read_config()
        if not config or not config.get("data"):
            return None
        return {key: config.get(key) for key in DATA_RECIPE_KEYS}

    def heldout_fingerprint(self) -> dict | None:
        """``{"split": "test", "count": N, "sha256": ...}`` of the split the run never trained on, if recorded."""
        heldout = (self.read_data() or {}).get("heldout")
        return heldout if isinstance(heldout, dict) else None

    def write_data(self, recipe: dict, heldout: dict | None) -> None:
        """Records the data recipe (``DATA_RECIPE_KEYS``) and the held-out split's fingerprint."""
        write_json(self.data_path, {"recipe": {key: recipe.get(key) for key in DATA_RECIPE_KEYS},
                                    "heldout": heldout})

    def write_config(self, config: dict) -> None:
        write_json(self.config_path, config)

    def write_labels(self, class_names) -> None:
        from keras_resnet.data.labels import write_labels

        write_labels(self.labels_path, class_names)

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.metrics_path, metrics)


def is_run_dir(path) -> bool:
    """True for a folder holding a trained ``model.keras``."""
    return RunDirectory(os.fspath(path)).has_model()


def is_finished(path) -> bool:
    """True for a run directory whose ``metrics.json`` marks the run complete."""
    return RunDirectory(os.fspath(path)).is_finished()
