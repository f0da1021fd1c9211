"""Every named model as a keras.applications-style constructor: ``ResNet50(...)``, ``ResNet20(...)`` ...

One function per zoo model (``keras_resnet.zoo.ZOO``), each building its zoo entry. They take
keras.applications' arguments and behave as there:

- ``include_top``: add the classifier (global average pooling, then a ``classes``-way Dense).
- ``weights``: None (random), "imagenet" (ResNet50/101/152 and V2: keras.applications' files), or the
  path of a weights file (``.keras``, ``.weights.h5`` or a keras.applications ``.h5``). The preprocessing
  the weights were trained with is built into the model unless ``preprocessing`` is given (see
  :mod:`keras_resnet.weights`).
- ``input_tensor``: a Keras tensor to build the model on, e.g. the output of another layer.
- ``input_shape``: ``(height, width, channels)``, or ``(channels, height, width)`` when
  ``keras.config.image_data_format()`` is "channels_first"; any number of channels. Default: 3 channels,
  224x224 (ImageNet family) or 32x32 (CIFAR family) with the top, any size without.
- ``pooling``: without the top, None (the last feature map), "avg" or "max" (one vector per image).
- ``classes``: outputs of the classifier (default 1000 for the ImageNet family, 10 for CIFAR).
- ``classifier_activation``: "softmax", None (logits) or any Keras activation.
- ``**options``: any option of :func:`keras_resnet.ResNet` (``version``, ``shortcut``,
  ``zero_init_residual``, ``stochastic_depth``, ``preprocessing`` ...).

Models take raw 0-255 pixels: the ``preprocessing`` layer inside the model scales them.
"""

from keras_resnet.zoo import ZOO


def _build(name, arguments):
    """Zoo model ``name`` from a constructor's own arguments (its ``locals()``, ``options`` included)."""
    arguments = dict(arguments)
    return ZOO[name].build(**arguments.pop("options"), **arguments)


# ---------------------------------------------------------------- ImageNet family, v1 (He et al. 2015, Table 1)

def ResNet18(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", **options):
    """ResNet-18: 7x7 stem, basic units (2, 2, 2, 2), 11,689,512 trainable parameters as torchvision's resnet18.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet18", locals())


def ResNet34(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", **options):
    """ResNet-34: 7x7 stem, basic units (3, 4, 6, 3), 21,797,672 trainable parameters as torchvision's resnet34.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet34", locals())


def ResNet50(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", **options):
    """ResNet-50: bottleneck units (3, 4, 6, 3), 25,636,712 parameters; equals keras.applications.ResNet50.

    Same layer names and parameter count; ``weights="imagenet"`` loads keras.applications' ImageNet
    weights (their BGR "caffe" preprocessing is built in: the model takes RGB 0-255 pixels).
    Arguments as keras.applications (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet50", locals())


def ResNet101(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", **options):
    """ResNet-101: bottleneck units (3, 4, 23, 3), 44,707,176 parameters; equals keras.applications.ResNet101.

    Same layer names and parameter count; ``weights="imagenet"`` loads keras.applications' ImageNet
    weights ("caffe" preprocessing built in). Arguments as keras.applications (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet101", locals())


def ResNet152(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", **options):
    """ResNet-152: bottleneck units (3, 8, 36, 3), 60,419,944 parameters; equals keras.applications.ResNet152.

    Same layer names and parameter count; ``weights="imagenet"`` loads keras.applications' ImageNet
    weights ("caffe" preprocessing built in). Arguments as keras.applications (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet152", locals())


def ResNet200(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", **options):
    """ResNet-200: bottleneck units (3, 24, 36, 3), 64,937,832 parameters, post-activation (Identity Mappings).

    No ImageNet weights. Arguments as keras.applications (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet200", locals())


# ---------------------------------------------------------------- ImageNet family, v2 (pre-activation, He et al. 2016)

def ResNet18V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax", **options):
    """ResNet-18 v2: pre-activation basic units (2, 2, 2, 2), 11,695,528 parameters.

    BN-ReLU-conv units (Identity Mappings), no ImageNet weights. Arguments as keras.applications
    (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet18v2", locals())


def ResNet34V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax", **options):
    """ResNet-34 v2: pre-activation basic units (3, 4, 6, 3), 21,811,112 parameters.

    BN-ReLU-conv units (Identity Mappings), no ImageNet weights. Arguments as keras.applications
    (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet34v2", locals())


def ResNet50V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax", **options):
    """ResNet-50 v2: pre-activation bottleneck units (3, 4, 6, 3), 25,613,800 parameters; equals
    keras.applications.ResNet50V2.

    Same layer names and parameter count; ``weights="imagenet"`` loads keras.applications' ImageNet
    weights ([-1, 1] "symmetric" preprocessing built in). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet50v2", locals())


def ResNet101V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", **options):
    """ResNet-101 v2: pre-activation bottleneck units (3, 4, 23, 3), 44,675,560 parameters; equals
    keras.applications.ResNet101V2.

    Same layer names and parameter count; ``weights="imagenet"`` loads keras.applications' ImageNet
    weights ("symmetric" preprocessing built in). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet101v2", locals())


def ResNet152V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", **options):
    """ResNet-152 v2: pre-activation bottleneck units (3, 8, 36, 3), 60,380,648 parameters; equals
    keras.applications.ResNet152V2.

    Same layer names and parameter count; ``weights="imagenet"`` loads keras.applications' ImageNet
    weights ("symmetric" preprocessing built in). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet152v2", locals())


def ResNet200V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", **options):
    """ResNet-200 v2: pre-activation bottleneck units (3, 24, 36, 3), 64,894,440 parameters.

    The 200-layer net of Identity Mappings (Table 5), no ImageNet weights. Arguments as keras.applications
    (see :mod:`keras_resnet.applications`).
    """
    return _build("resnet200v2", locals())


# ---------------------------------------------------------------- CIFAR family (He et al. 2015, Sec. 4.2)
# 3x3 stem, three stages of 16/32/64 filters, n basic units each (depth 6n + 2), option-A shortcuts.

def ResNet20(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
             classifier_activation="softmax", **options):
    """CIFAR ResNet-20: 3 basic units per stage, option-A identity shortcuts, 271,098 parameters.

    He et al. 2015, Table 6 (8.75 % CIFAR-10 test error). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet20", locals())


def ResNet32(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
             classifier_activation="softmax", **options):
    """CIFAR ResNet-32: 5 basic units per stage, option-A identity shortcuts, 466,426 parameters.

    He et al. 2015, Table 6 (7.51 % CIFAR-10 test error). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet32", locals())


def ResNet44(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
             classifier_activation="softmax", **options):
    """CIFAR ResNet-44: 7 basic units per stage, option-A identity shortcuts, 661,754 parameters.

    He et al. 2015, Table 6 (7.17 % CIFAR-10 test error). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet44", locals())


def ResNet56(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
             classifier_activation="softmax", **options):
    """CIFAR ResNet-56: 9 basic units per stage, option-A identity shortcuts, 857,082 parameters.

    He et al. 2015, Table 6 (6.97 % CIFAR-10 test error). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet56", locals())


def ResNet110(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
              classifier_activation="softmax", **options):
    """CIFAR ResNet-110: 18 basic units per stage, option-A identity shortcuts, 1,736,058 parameters.

    He et al. 2015, Table 6 (6.43 % CIFAR-10 test error). Arguments as keras.applications
    (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet110", locals())


def ResNet1202(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """CIFAR ResNet-1202: 200 basic units per stage, option-A identity shortcuts, 19,510,906 parameters.

    He et al. 2015, Table 6 (7.93 % CIFAR-10 test error: worse than ResNet-110, over-fitting).
    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet1202", locals())


# The plain twins: the same layers and parameters as the ResNet of that depth, without shortcuts.

def PlainNet20(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """Plain-20: ResNet-20 without shortcuts, 271,098 parameters (He et al. 2015, Fig. 6).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("plain20", locals())


def PlainNet32(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """Plain-32: ResNet-32 without shortcuts, 466,426 parameters (He et al. 2015, Fig. 6).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("plain32", locals())


def PlainNet44(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """Plain-44: ResNet-44 without shortcuts, 661,754 parameters (He et al. 2015, Fig. 6).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("plain44", locals())


def PlainNet56(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """Plain-56: ResNet-56 without shortcuts, 857,082 parameters; trains worse than plain-20 (He et al. 2015,
    Fig. 6: the degradation problem).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("plain56", locals())


def PlainNet110(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
                classifier_activation="softmax", **options):
    """Plain-110: ResNet-110 without shortcuts, 1,736,058 parameters (He et al. 2015, Fig. 6).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("plain110", locals())


def PlainNet1202(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
                 classifier_activation="softmax", **options):
    """Plain-1202: ResNet-1202 without shortcuts, 19,510,906 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("plain1202", locals())


# Pre-activation (v2) versions of the CIFAR ResNets (Identity Mappings, full pre-activation units).

def ResNet20V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """CIFAR ResNet-20 v2: ResNet-20 with BN-ReLU-conv units, 271,098 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet20v2", locals())


def ResNet32V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """CIFAR ResNet-32 v2: ResNet-32 with BN-ReLU-conv units, 466,426 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet32v2", locals())


def ResNet44V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """CIFAR ResNet-44 v2: ResNet-44 with BN-ReLU-conv units, 661,754 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet44v2", locals())


def ResNet56V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """CIFAR ResNet-56 v2: ResNet-56 with BN-ReLU-conv units, 857,082 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet56v2", locals())


def ResNet110V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
                classifier_activation="softmax", **options):
    """CIFAR ResNet-110 v2: ResNet-110 with BN-ReLU-conv units, 1,736,058 parameters (Identity Mappings,
    Table 2: 6.37 % CIFAR-10 test error against 6.61 % for v1).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet110v2", locals())


def ResNet1202V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
                 classifier_activation="softmax", **options):
    """CIFAR ResNet-1202 v2: ResNet-1202 with BN-ReLU-conv units, 19,510,906 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet1202v2", locals())


# Bottleneck CIFAR nets of Identity Mappings: depth 9n + 2, projection shortcuts where channels change.

def ResNet164(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
              classifier_activation="softmax", **options):
    """CIFAR ResNet-164: 18 bottleneck units per stage, post-activation, 1,729,274 parameters (Identity
    Mappings, Table 2: 5.93 % CIFAR-10 test error).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet164", locals())


def ResNet164V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
                classifier_activation="softmax", **options):
    """CIFAR ResNet-164 v2: 18 pre-activation bottleneck units per stage, 1,727,482 parameters (Identity
    Mappings, Table 2: 5.46 % CIFAR-10 test error).

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet164v2", locals())


def ResNet1001(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", **options):
    """CIFAR ResNet-1001: 111 bottleneck units per stage, post-activation, 10,478,714 parameters.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet1001", locals())


def ResNet1001V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
                 classifier_activation="softmax", **options):
    """CIFAR ResNet-1001 v2: 111 pre-activation bottleneck units per stage, 10,476,922 parameters: the
    1001-layer net of Identity Mappings.

    Arguments as keras.applications (see :mod:`keras_resnet.applications`); 32x32 RGB and 10 classes by default.
    """
    return _build("resnet1001v2", locals())
