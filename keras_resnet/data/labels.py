"""``labels.txt``: the class names, one per line, in label order, so they travel with a model."""

from __future__ import annotations

import os

from keras_resnet.errors import KerasResnetError
from keras_resnet.files import write_text


def check_class_names(class_names, where: str) -> list[str]:
    names = [str(name) for name in class_names]
    if not names:
        raise KerasResnetError(f"{where} has no class names: give at least one")
    for index, name in enumerate(names):
        if not name.strip() or "\n" in name or "\r" in name:
            raise KerasResnetError(
                f"class name {index} in {where} is {name!r}: names must be non-empty and on one line"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise KerasResnetError(f"{where} repeats class name {duplicates[0]!r}: make the names unique")
    return names


def write_labels(path, class_names) -> None:
    """Writes ``class_names`` one per line; atomically (temporary file, then ``os.replace``)."""
    path = os.fspath(path)
    names = check_class_names(class_names, f"labels for '{path}'")
    write_text(path, "".join(name + "\n" for name in names))


def read_labels(path) -> list[str]:
    """The class names in ``path`` (one per line, label order)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise KerasResnetError(
            f"no labels file at '{path}': give the labels.txt saved next to the model"
        ) from None
    except UnicodeDecodeError:
        raise KerasResnetError(
            f"labels file '{path}' is not UTF-8 text: write one class name per line"
        ) from None
    except OSError as error:  # a folder, no permission ...
        raise KerasResnetError(
            f"cannot read labels file '{path}' ({error.strerror or type(error).__name__}): give a readable text file"
        ) from None
    return check_class_names(text.splitlines(), f"labels file '{path}'")
