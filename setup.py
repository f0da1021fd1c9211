"""Install keras_resnet (distribution name ``keras3-resnet``; the import name stays ``keras_resnet``)."""

import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).parent
# The reference implementations the PyTorch-weights tests compare with (PyPI's torch brings CUDA: ~5 GB).
TORCH = ["torch>=2.4", "torchvision>=0.19", "timm>=1.0.9,<2"]


class BuildPy(build_py):
    """Installs the root ``cli.py`` as ``keras_resnet/cli.py`` (package_dir maps packages, not modules)."""

    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if package == "keras_resnet":
            modules.append((package, "cli", str(ROOT / "cli.py")))
        return modules


setup(
    name="keras3-resnet",
    version="0.1.0",
    description="Every ResNet of the residual-learning papers in Keras 3: train with tf.distribute, "
                "export quantized TFLite/SavedModel/ONNX, with proof of accuracy, size and speed",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # export/ and cli.py live at the repository root and install inside keras_resnet (as
    # keras_resnet.export and keras_resnet.cli), so site-packages gets no generic top-level
    # 'export' or 'cli'. Inside export/ and cli.py, imports of export are relative ('.runtime',
    # '.export'): they resolve to the same files in the source tree and in the installed package.
    packages=["keras_resnet", "keras_resnet.data", "keras_resnet.training", "keras_resnet.experiments",
              "keras_resnet.export", "keras_resnet.export.formats"],
    package_dir={"keras_resnet.export": "export"},
    cmdclass={"build_py": BuildPy},
    package_data={"keras_resnet.data": ["bundled/*.npz", "bundled/README.md"]},
    install_requires=[
        "tensorflow>=2.18,<2.22",
        "tensorboard>=2.18,<2.22",
        "keras>=3.8,<4",  # model.export(format="onnx") came in 3.8
        "tf-keras>=2.18,<2.22",
        "tensorflow-model-optimization>=0.8,<0.9",
        "ai-edge-litert>=1.2,<3",
        "onnx>=1.16,<2",
        "onnxruntime>=1.17,<2",  # runs and quantizes (quantize_static, QDQ) the .onnx artifacts
        "tf2onnx>=1.17,<2",  # Keras' ONNX exporter for the TensorFlow backend
        "click>=8.1,<9",
        "numpy>=1.26,<3",
        "matplotlib>=3.8,<4",
        "pillow>=10,<14",
        "pyyaml>=6,<7",
        "safetensors>=0.4,<1",  # reads PyTorch weights (timm, torchvision) without PyTorch
        "huggingface_hub>=0.23,<3",  # weights="timm:NAME": downloaded once into its cache (imported only then)
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.18,<2.22"],
        "torch": TORCH,
        "test": ["pytest>=8,<10", "tensorflow-datasets>=4.9.10,<5", *TORCH],
    },
    entry_points={"console_scripts": ["keras-resnet=keras_resnet.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
