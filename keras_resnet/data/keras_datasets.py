"""The ``keras.datasets`` image sets by name: cifar10, cifar100, mnist, fashion_mnist.

Keras downloads each once into ``$KERAS_HOME/datasets`` (default ``~/.keras``);
without internet the error says which file to place where.
"""

from __future__ import annotations

import os

from keras_resnet.data.containers import DatasetSplits, LabeledImages
from keras_resnet.errors import KerasResnetError, first_line

_STORAGE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_CIFAR100_NAMES = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch "
    "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo "
    "keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse "
    "mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy "
    "porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper "
    "snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television "
    "tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split()

# name -> (class names, what to download, where keras looks for it under $KERAS_HOME)
KERAS_DATASETS = {
    "mnist": ([str(digit) for digit in range(10)], _STORAGE + "mnist.npz", "datasets/mnist.npz"),
    "fashion_mnist": (
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        _STORAGE + "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (4 files)",
        "datasets/fashion-mnist/",
    ),
    "cifar10": (
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "datasets/cifar-10-batches-py-target_archive",
    ),
    "cifar100": (
        _CIFAR100_NAMES,
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "datasets/cifar-100-python-target_archive",
    ),
}


def is_keras_dataset(source: str) -> bool:
    """Whether ``source`` is one of the reserved names in ``KERAS_DATASETS`` (``./mnist`` is a folder)."""
    return source in KERAS_DATASETS


def keras_cache_path(relative: str) -> str:
    """Where Keras keeps a downloaded file: ``$KERAS_HOME`` or ``~/.keras``, then ``relative``."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, relative)


def load_keras_dataset(name: str) -> DatasetSplits:
    """``keras.datasets.<name>.load_data()`` as uint8 ``[N, H, W, C]`` splits with class names."""
    import keras

    class_names, origin, cached = KERAS_DATASETS[name]
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:  # keras raises a bare Exception when the download fails
        reason = first_line(error)
        raise KerasResnetError(
            f"could not load keras dataset '{name}' ({reason}): without internet, download "
            f"{origin} elsewhere and place it at {keras_cache_path(cached)}"
        ) from None
    return DatasetSplits(
        list(class_names),
        LabeledImages.from_arrays(x_train, y_train, f"keras dataset '{name}' (train)"),
        test=LabeledImages.from_arrays(x_test, y_test, f"keras dataset '{name}' (test)"),
        source=name,
    )
