"""An export folder is owned by its manifest, ``export.json``, which lists every file the export wrote.

    folder = claim(out_dir, planned)        # before the first file lands
    ...                                      # write the artifacts
    manifest = folder.finish(manifest, written)

``claim`` removes the temporaries a killed export left behind (``files.is_partial``) and writes an
unfinished manifest that owns the earlier export's files and every file this one plans, so an export
killed half-way still owns what it left. ``finish`` removes what an earlier export (finished or not)
owned and this one did not write, and writes the manifest with ``files`` (what this export owns),
``removed`` (what it removed) and ``unowned`` (anything else in the folder: never touched, listed so
nothing is mixed in silently).
"""

from __future__ import annotations

import dataclasses
import os

from keras_resnet import files

MANIFEST_FILE = "export.json"


@dataclasses.dataclass
class ExportFolder:
    """A claimed export folder: the names an earlier export owned, to remove unless written again."""

    path: str
    previous: tuple

    def finish(self, manifest: dict, written) -> dict:
        """Removes the earlier export's leftovers and writes ``manifest`` as the folder's owner; returns it."""
        written = sorted({*written, MANIFEST_FILE})
        removed = [name for name in self.previous if name not in written]
        for name in removed:
            files.discard(os.path.join(self.path, name))
        unowned = sorted(name for name in os.listdir(self.path) if name not in written and not files.is_partial(name))
        manifest = {**manifest, "complete": True, "files": written, "removed": removed, "unowned": unowned}
        files.write_json(os.path.join(self.path, MANIFEST_FILE), manifest)
        return manifest


def claim(path: str, planned) -> ExportFolder:
    """Takes ``path`` (an existing folder) for an export that will write ``planned`` names."""
    for name in os.listdir(path):
        if files.is_partial(name):
            files.discard(os.path.join(path, name))
    manifest_path = os.path.join(path, MANIFEST_FILE)
    previous = tuple(name for name in owned_files(files.read_json(manifest_path)) if name != MANIFEST_FILE)
    files.write_json(manifest_path, {"complete": False, "files": sorted({*previous, *planned, MANIFEST_FILE})})
    return ExportFolder(path, previous)


def owned_files(manifest) -> list[str]:
    """The names a manifest owns: its ``files``, or for manifests made before that list, what it recorded."""
    from .labels import LABELS_FILE, sidecar_path

    if not isinstance(manifest, dict) or not ({"complete", "keras_resnet_version"} & set(manifest)):
        return []  # not a manifest of ours: it owns nothing here
    names = manifest.get("files")
    if not isinstance(names, list):  # an older manifest: its artifacts, their sidecars, labels and report
        paths = [entry.get("path") for entry in (manifest.get("artifacts") or {}).values() if isinstance(entry, dict)]
        paths += [sidecar_path(path) for path in paths if isinstance(path, str) and path.endswith(".tflite")]
        paths += list((manifest.get("report") or {}).values()) + [LABELS_FILE, MANIFEST_FILE]
        names = [os.path.basename(os.path.normpath(path)) for path in paths if isinstance(path, str)]
    return sorted({name for name in names if _plain_name(name)})


def _plain_name(name) -> bool:
    """A name inside the folder itself: a manifest can never make an export remove anything elsewhere."""
    return isinstance(name, str) and name not in ("", ".", "..") and name == os.path.basename(name) \
        and "\\" not in name
