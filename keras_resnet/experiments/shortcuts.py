"""Identity Mappings, Table 1: what happens when the shortcut is more than an identity.

``y = h(x) + F(x)`` with h scaled, gated, a 1x1 conv or dropout instead of
``h(x) = x``. Every variant (the original included) uses a 1x1 projection in
the two units that change the channel count, so variants differ only in the
shortcuts of the other units, which is where the paper applies them.
"""

from __future__ import annotations

from keras_resnet.experiments import paper_results
from keras_resnet.experiments.variants import Variant, run_variants

_S, _F = "on shortcut", "on F"
SHORTCUT_VARIANTS = {
    "original": Variant("original", {"shortcut": "projection"}, {_S: "1", _F: "1"}),
    "constant_scaling": Variant("constant scaling 0.5", {"shortcut": "scaled", "shortcut_scale": 0.5,
                                                         "residual_scale": 1.0}, {_S: "0.5", _F: "1"}),
    "constant_scaling_both": Variant("constant scaling 0.5 / 0.5", {"shortcut": "scaled", "shortcut_scale": 0.5,
                                                                    "residual_scale": 0.5}, {_S: "0.5", _F: "0.5"}),
    "exclusive_gating": Variant("exclusive gating (b_g=-6)", {"shortcut": "exclusive_gating", "gate_bias": -6.0},
                                {_S: "1-g(x)", _F: "g(x)"}),
    "exclusive_gating_b0": Variant("exclusive gating (b_g=0)", {"shortcut": "exclusive_gating", "gate_bias": 0.0},
                                   {_S: "1-g(x)", _F: "g(x)"}),
    "exclusive_gating_b7": Variant("exclusive gating (b_g=-7)", {"shortcut": "exclusive_gating", "gate_bias": -7.0},
                                   {_S: "1-g(x)", _F: "g(x)"}),
    "shortcut_gating": Variant("shortcut-only gating (b_g=-6)", {"shortcut": "shortcut_gating", "gate_bias": -6.0},
                               {_S: "1-g(x)", _F: "1"}),
    "shortcut_gating_b0": Variant("shortcut-only gating (b_g=0)", {"shortcut": "shortcut_gating", "gate_bias": 0.0},
                                  {_S: "1-g(x)", _F: "1"}),
    "conv1x1": Variant("1x1 conv shortcut", {"shortcut": "conv1x1"}, {_S: "1x1 conv", _F: "1"}),
    "dropout": Variant("dropout shortcut (0.5)", {"shortcut": "dropout", "shortcut_dropout": 0.5},
                       {_S: "dropout 0.5", _F: "1"}),
}
DEFAULT_SHORTCUTS = ("original", "constant_scaling", "exclusive_gating", "shortcut_gating", "conv1x1", "dropout")

PAPER_NOTE = (f"Paper column: {paper_results.IDENTITY_MAPPINGS}, Table 1 — ResNet-110 on CIFAR-10 with the full"
              " recipe (64k iterations), median of 5 runs; \"fail\" = test error above 20 %. Those are the paper's"
              " numbers, not comparable in absolute terms with a short run of a shallower net on other data:"
              " compare the ranking. Here every variant projects (1x1 conv) in the units that change the channel"
              " count; the paper's original ResNet-110 pads with zeros there (option A).")


def run_shortcuts(out="runs/experiments/shortcuts", *, variants=DEFAULT_SHORTCUTS, depth=None, data="bundled",
                  recipe="tiny", epochs=None, train_images=None, seed=0, verbose=None):
    """Trains a v1 ResNet of ``depth`` (default 20; 110 with the paper recipe) with each shortcut variant
    (``SHORTCUT_VARIANTS`` names or "all"); writes shortcuts.json, shortcuts.md (final errors beside
    Table 1) and shortcuts.png to ``out``."""
    return run_variants(
        "shortcuts", title="Shortcut variants (Identity Mappings, Table 1)",
        intro="Each residual unit computes `y = h(x) + F(x)` followed by ReLU (the original unit); only h, the"
              " shortcut, changes: scaled, gated by g(x) = sigmoid(1x1 conv(x) + b_g), a 1x1 conv, or dropout.",
        registry=SHORTCUT_VARIANTS, chosen=variants, baseline="original", depth=depth,
        paper_columns=[("paper: ResNet-110, CIFAR-10", paper_results.SHORTCUTS_RESNET110)], paper_note=PAPER_NOTE,
        out=out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed, verbose=verbose)
