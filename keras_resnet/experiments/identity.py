"""How close to the identity each residual unit is: ‖F(x)‖ / ‖x‖ per unit, across training.

In every unit ``y = shortcut(x) + F(x)`` (blocks.residual_unit builds
``Add([shortcut, branch])``, named ``conv{stage}_block{i}_add``, or ``..._out``
in pre-activation orders), the ratio of the Frobenius norms of the branch and
the shortcut tensors over a fixed batch, in inference mode. It is 0 for a unit
whose branch outputs zeros (``zero_init_residual=True`` before training).
"""

from __future__ import annotations

import numpy as np

from keras_resnet.errors import KerasResnetError
from keras_resnet.experiments import plots, report
from keras_resnet.experiments.runner import ModelSpec
from keras_resnet.experiments.session import Session
from keras_resnet.naming import residual_addition_unit

SETTINGS = {"default_init": "default BN γ = 1", "zero_init": "last BN γ = 0 (zero-init residual)"}


def residual_additions(model):
    """``[(unit name, Add layer)]`` of every residual unit of ``model``, input side first."""
    import keras

    units = []
    for layer in model.layers:
        unit = residual_addition_unit(layer.name)
        if unit and isinstance(layer, keras.layers.Add) and len(layer.input) == 2:
            units.append((unit, layer))
    if not units:
        raise KerasResnetError(f"model {model.name!r} has no residual additions (conv*_block*_add/_out):"
                               " identity ratios need a net with shortcuts, not a plain net")
    return units


class IdentityProbe:
    """Measures ‖F(x)‖/‖x‖ of every unit of one model; the sub-model shares the model's weights."""

    def __init__(self, model):
        import keras

        self.units = residual_additions(model)
        outputs = []
        for _, layer in self.units:
            shortcut, branch = layer.input
            outputs += [shortcut, branch]
        self.model = model
        self.probe = keras.Model(model.inputs[0], outputs, name=f"{model.name}_identity_probe")

    def ratios(self, images):
        """``{unit: ratio}``; None where the shortcut is all zeros (ratio undefined)."""
        tensors = self.probe(np.asarray(images, np.float32), training=False)
        result = {}
        for (unit, _), index in zip(self.units, range(0, len(tensors), 2)):
            shortcut = np.asarray(tensors[index], np.float64)
            branch = np.asarray(tensors[index + 1], np.float64)
            shortcut_norm, branch_norm = np.linalg.norm(shortcut), np.linalg.norm(branch)
            result[unit] = float(branch_norm / shortcut_norm) if shortcut_norm > 0 else None
        return result


def residual_ratios(model, images):
    """``{unit name: ‖F(x)‖ / ‖x‖}`` for every residual unit of ``model`` on ``images`` (raw pixels)."""
    return IdentityProbe(model).ratios(images)


class _Measure:
    """The runner's per-epoch hook: one probe per model, built on first use."""

    def __init__(self):
        self._probe = None

    def __call__(self, model, images):
        if self._probe is None or self._probe.model is not model:
            self._probe = IdentityProbe(model)
        return {"ratios": self._probe.ratios(images)}


def identity_models(depth=20, version="v1"):
    options = {"depth": int(depth), "version": version}
    return [ModelSpec("default_init", f"ResNet-{depth} {version}, {SETTINGS['default_init']}", options),
            ModelSpec("zero_init", f"ResNet-{depth} {version}, {SETTINGS['zero_init']}",
                      {**options, "zero_init_residual": True})]


def run_identity(out="runs/experiments/identity", *, depth=20, version="v1", data="bundled", recipe="tiny",
                 epochs=None, train_images=None, seed=0, verbose=None):
    """Trains a ResNet with default and with zero-initialised last-BN γ, measuring ‖F(x)‖/‖x‖ per unit
    before training and after every epoch. Writes identity.json, identity.md and identity.png to ``out``."""
    specs = identity_models(depth, version)
    session = Session("identity", out, data=data, recipe=recipe, epochs=epochs, train_images=train_images,
                      seed=seed, verbose=verbose)
    records = session.train(specs, measure=_Measure())
    labels = {spec.name: spec.label for spec in specs}
    findings = report.identity_findings(records, labels)
    markdown = report.identity_markdown(session.describe(), records, labels, findings, "identity.png")
    figures = {"identity.png": lambda path: plots.plot_identity(records, labels, path)}
    return session.finish(records, findings, markdown, figures)

