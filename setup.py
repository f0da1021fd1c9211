"""Install keras_resnet (distribution name ``keras3-resnet``; the import name stays ``keras_resnet``)."""

import pathlib

from setuptools import setup

ROOT = pathlib.Path(__file__).parent

setup(
    name="keras3-resnet",
    version="0.1.0",
    description="Every ResNet of the residual-learning papers in Keras 3: train with tf.distribute, "
                "export quantized TFLite/SavedModel, with proof of accuracy, size and speed",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # export/ and cli.py live at the repository root but install inside keras_resnet, through
    # the symlinks keras_resnet/export and keras_resnet/cli.py (so the source tree imports the
    # same way): site-packages gets no generic top-level 'export' or 'cli'.
    packages=["keras_resnet", "keras_resnet.data", "keras_resnet.training", "keras_resnet.experiments",
              "keras_resnet.export"],
    package_data={"keras_resnet.data": ["bundled/*.npz", "bundled/README.md"]},
    install_requires=[
        "tensorflow>=2.18,<2.22",
        "tensorboard>=2.18,<2.22",
        "keras>=3.6,<4",
        "tf-keras>=2.18,<2.22",
        "tensorflow-model-optimization>=0.8,<0.9",
        "ai-edge-litert>=1.2,<3",
        "click>=8.1,<9",
        "numpy>=1.26,<3",
        "matplotlib>=3.8,<4",
        "pillow>=10,<14",
        "pyyaml>=6,<7",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.18,<2.22"],
        "test": ["pytest>=8,<10"],
    },
    entry_points={"console_scripts": ["keras-resnet=keras_resnet.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
