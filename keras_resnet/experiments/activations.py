"""Identity Mappings, Table 2 / Fig. 4: where BatchNorm and ReLU sit around the addition.

(a) original: conv-BN-ReLU-conv-BN, add, ReLU; (b) BN after addition;
(c) ReLU before addition; (d) ReLU-only pre-activation; (e) full
pre-activation (BN-ReLU-conv twice, nothing after the addition: v2).
"""

from __future__ import annotations

from keras_resnet.experiments import paper_results
from keras_resnet.experiments.variants import Variant, run_variants

_AFTER = "after addition"
ACTIVATION_VARIANTS = {
    "post_activation": Variant("(a) original", {"version": "post_activation"},
                               {"unit": "conv-BN-ReLU-conv-BN, add", _AFTER: "ReLU"}),
    "bn_after_addition": Variant("(b) BN after addition", {"version": "bn_after_addition"},
                                 {"unit": "conv-BN-ReLU-conv, add", _AFTER: "BN, ReLU"}),
    "relu_before_addition": Variant("(c) ReLU before addition", {"version": "relu_before_addition"},
                                    {"unit": "conv-BN-ReLU-conv-BN-ReLU, add", _AFTER: "—"}),
    "relu_preactivation": Variant("(d) ReLU-only pre-activation", {"version": "relu_preactivation"},
                                  {"unit": "ReLU-conv-BN-ReLU-conv-BN, add", _AFTER: "—"}),
    "full_preactivation": Variant("(e) full pre-activation", {"version": "full_preactivation"},
                                  {"unit": "BN-ReLU-conv-BN-ReLU-conv, add", _AFTER: "—"}),
}
DEFAULT_ACTIVATIONS = tuple(ACTIVATION_VARIANTS)

PAPER_NOTE = (f"Paper columns: {paper_results.IDENTITY_MAPPINGS}, Table 2 — ResNet-110 and ResNet-164 on CIFAR-10"
              " with the full recipe (64k iterations). Those are the paper's numbers, not comparable in absolute"
              " terms with a short run of a shallower net on other data: compare the ranking. All variants here use"
              " option-A identity shortcuts, as the CIFAR ResNets of both papers.")


def run_activations(out="runs/experiments/activations", *, variants=DEFAULT_ACTIVATIONS, depth=None, data="bundled",
                    recipe="tiny", epochs=None, train_images=None, seed=0, verbose=None):
    """Trains a ResNet of ``depth`` (default 20; 110 with the paper recipe) with each activation order
    (``ACTIVATION_VARIANTS`` names or "all"); writes activations.json, activations.md (final errors
    beside Table 2) and activations.png to ``out``."""
    return run_variants(
        "activations", title="Activation orders (Identity Mappings, Table 2)",
        intro="The same ResNet with BatchNorm and ReLU moved around the addition; shortcuts stay identities.",
        registry=ACTIVATION_VARIANTS, chosen=variants, baseline="post_activation", depth=depth,
        paper_columns=[("paper: ResNet-110", paper_results.ACTIVATIONS_RESNET110),
                       ("paper: ResNet-164", paper_results.ACTIVATIONS_RESNET164)], paper_note=PAPER_NOTE,
        out=out, data=data, recipe=recipe, epochs=epochs, train_images=train_images, seed=seed, verbose=verbose)
