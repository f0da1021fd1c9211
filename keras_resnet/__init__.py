"""keras_resnet: every ResNet of the residual-learning papers, trained with tf.distribute, exported quantized.

The model core lives here (``blocks`` -> ``models`` -> ``zoo`` -> ``applications``, with ``naming``,
``layers`` and ``weights``); ``data``, ``training`` and ``experiments`` are subpackages above it, and
``keras_resnet.export`` (the repository's ``export/``) knows models only as objects or saved files.
``run_directory`` is the contract between training and everything that reads a run.
"""

import importlib.metadata as _metadata
import os as _os
import sys as _sys


def _refuse_the_2019_package():
    """The unrelated 2019 'keras-resnet' distribution installs into the same keras_resnet/ folder."""
    try:
        _metadata.distribution("keras-resnet")
    except _metadata.PackageNotFoundError:
        return
    raise ImportError("the unrelated 2019 package 'keras-resnet' is installed over this one (same import name"
                      " keras_resnet): run 'pip uninstall -y keras-resnet keras3-resnet' then"
                      " 'pip install keras3-resnet'")


_refuse_the_2019_package()

if _os.path.basename(_sys.argv[0]) == "keras-resnet":  # the CLI: no TensorFlow start-up noise on the terminal
    from keras_resnet.startup import import_tensorflow_quietly

    import_tensorflow_quietly()

import keras as _keras

from keras_resnet.applications import (PlainNet20, PlainNet32, PlainNet44, PlainNet56, PlainNet110, PlainNet1202,
                                       ResNet18, ResNet18V2, ResNet20, ResNet20V2, ResNet32, ResNet32V2, ResNet34,
                                       ResNet34V2, ResNet44, ResNet44V2, ResNet50, ResNet50V2, ResNet56, ResNet56V2,
                                       ResNet101, ResNet101V2, ResNet110, ResNet110V2, ResNet152, ResNet152V2,
                                       ResNet164, ResNet164V2, ResNet200, ResNet200V2, ResNet1001, ResNet1001V2,
                                       ResNet1202, ResNet1202V2)
from keras_resnet.blocks import UnitOptions, residual_unit, stem
from keras_resnet.errors import KerasResnetError
from keras_resnet.layers import custom_layers
from keras_resnet.models import CifarResNet, ImageNetResNet, ResNet
from keras_resnet.zoo import ZOO, build_model, model_names

custom_layers(_keras)  # register our layers so .keras files load after `import keras_resnet` alone

__version__ = "0.1.0"
__all__ = ["KerasResnetError", "ResNet", "ImageNetResNet", "CifarResNet", "UnitOptions", "residual_unit",
           "stem", "build_model", "model_names", "ZOO",
           "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet200",
           "ResNet18V2", "ResNet34V2", "ResNet50V2", "ResNet101V2", "ResNet152V2", "ResNet200V2",
           "ResNet20", "ResNet32", "ResNet44", "ResNet56", "ResNet110", "ResNet1202",
           "PlainNet20", "PlainNet32", "PlainNet44", "PlainNet56", "PlainNet110", "PlainNet1202",
           "ResNet20V2", "ResNet32V2", "ResNet44V2", "ResNet56V2", "ResNet110V2", "ResNet1202V2",
           "ResNet164", "ResNet164V2", "ResNet1001", "ResNet1001V2"]
