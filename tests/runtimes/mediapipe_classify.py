"""Runs .tflite classifiers in MediaPipe Tasks' ImageClassifier (run inside a venv with mediapipe).

    python mediapipe_classify.py images.npz model1.tflite [model2.tflite ...]

``images.npz`` holds ``images``: uint8 [N, H, W, 3] RGB frames. Prints one JSON object:
for each model, the top category name and score per image, and the standard metadata as
MediaPipe's own generated schema classes read it (or the error either raised).
"""

import json
import sys

import numpy as np


def classify(model_path, images):
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model_path), max_results=1)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        names, scores = [], []
        for frame in images:
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame)))
            top = result.classifications[0].categories[0]
            names.append(top.category_name)
            scores.append(float(top.score))
    return {"names": names, "scores": scores}


def metadata(model_path):
    """The standard metadata as MediaPipe's generated schema classes parse it, and the packed file names."""
    import io
    import zipfile

    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema
    from mediapipe.tasks.metadata import schema_py_generated as model_schema

    content = open(model_path, "rb").read()
    model = model_schema.Model.GetRootAs(content, 0)
    entries = {model.Metadata(i).Name().decode(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    buffer = model.Buffers(entries["TFLITE_METADATA"]).DataAsNumpy().tobytes()
    assert schema.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0)
    meta = schema.ModelMetadataT.InitFromPackedBuf(buffer, 0)
    image, scores = meta.subgraphMetadata[0].inputTensorMetadata[0], meta.subgraphMetadata[0].outputTensorMetadata[0]
    properties = image.content.contentProperties
    units = [unit.options for unit in image.processUnits or []]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {info.filename: info.compress_type for info in archive.infolist()}
        labels = archive.read(scores.associatedFiles[0].name.decode()).decode().split("\n")[:-1]
    text = lambda value: value.decode() if value is not None else None  # noqa: E731
    return {"name": text(meta.name), "description": text(meta.description), "version": text(meta.version),
            "min_parser_version": text(meta.minParserVersion),
            "input": {"color_space": properties.colorSpace, "width": properties.defaultSize.width,
                      "height": properties.defaultSize.height,
                      "mean": [float(v) for v in units[0].mean] if units else None,
                      "std": [float(v) for v in units[0].std] if units else None},
            "output": {"file": text(scores.associatedFiles[0].name), "type": scores.associatedFiles[0].type,
                       "labels": labels},
            "packed": files}


def main():
    images = np.load(sys.argv[1])["images"]
    report = {}
    for path in sys.argv[2:]:
        entry = {}
        for key, run in (("metadata", lambda: metadata(path)), ("classified", lambda: classify(path, images))):
            try:
                entry[key] = run()
            except Exception as error:  # reported, and the test fails on it
                entry[key + "_error"] = f"{type(error).__name__}: {error}"
        report[path] = entry
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
