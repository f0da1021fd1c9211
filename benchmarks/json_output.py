"""How every benchmark ends: its one JSON object printed, and written to ``--json-out`` too when given."""

from __future__ import annotations

import json


def emit(output: dict, path: str | None = None) -> dict:
    """Prints ``output`` as indented JSON (NumPy values as lists, anything else unknown as text) and writes the
    same text to ``path`` when given; returns ``output``."""
    text = json.dumps(output, indent=2,
                      default=lambda value: value.tolist() if hasattr(value, "tolist") else str(value))
    print(text)
    if path:
        from keras_resnet.files import write_text

        write_text(path, text + "\n")
    return output
