"""Export: SavedModel and quantized TFLite artifacts, verified, with a report card.

Installed as ``keras_resnet.export``; knows models only through a model object or a saved artifact.
"""
