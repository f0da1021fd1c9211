"""Experiments that show why residual learning works, each a function and a ``keras-resnet experiment`` command.

    from keras_resnet import experiments
    result = experiments.run_degradation("runs/degradation", depths=(20, 56))   # plain vs residual nets
    experiments.run_shortcuts("runs/shortcuts")        # Identity Mappings, Table 1
    experiments.run_activations("runs/activations")    # Identity Mappings, Table 2
    experiments.run_identity("runs/identity")          # ||F(x)|| / ||x|| per unit across training
    experiments.run_vanishing_gradients("runs/vg")     # gradient norms per unit: did plain-56's vanish?
    experiments.run_one_layer_shortcuts("runs/one")    # shortcuts around one conv vs two, equal depth
    experiments.run_construction("runs/construction")  # ResNet-20 grown to 56 with identity units, trained on
    experiments.run_signal_propagation("runs/signal")  # gradient first/last unit vs the formula's Π λ_i
    print(result.markdown); result.paths               # {"json": ..., "md": ..., "png": [...]}

Each writes ``NAME.json`` (config, per-epoch numbers, summary), ``NAME.md`` and PNGs
into its folder, and trains every model with ``keras_resnet.training.train`` in a run
directory of its own (``runs/MODEL/``: model.keras, history, checkpoints). It resumes
there: finished models are skipped, an interrupted one continues from its last
checkpoint. Recipes are ``TrainConfig`` options. ``recipe="tiny"`` (default) fits about ten
minutes on 2 CPU cores with the bundled digits; ``data="cifar10", recipe="paper"``
is the papers' full CIFAR-10 recipe, for a GPU.
"""

from keras_resnet.experiments.activations import ACTIVATION_VARIANTS, DEFAULT_ACTIVATIONS, run_activations
from keras_resnet.experiments.construction import run_construction
from keras_resnet.experiments.degradation import DEFAULT_DEPTHS, degradation_models, run_degradation
from keras_resnet.experiments.growing import grow_into
from keras_resnet.experiments.identity import IdentityProbe, residual_additions, residual_ratios, run_identity
from keras_resnet.experiments.one_layer_shortcuts import run_one_layer_shortcuts
from keras_resnet.experiments.recipes import RECIPES, Recipe, get_recipe
from keras_resnet.experiments.report import degradation_findings, variant_findings
from keras_resnet.experiments.runner import ModelSpec, run_models
from keras_resnet.experiments.session import ExperimentResult, Session
from keras_resnet.experiments.shortcuts import DEFAULT_SHORTCUTS, SHORTCUT_VARIANTS, run_shortcuts
from keras_resnet.experiments.signal_propagation import run_signal_propagation, shortcut_term
from keras_resnet.experiments.signals import SignalProbe, gradient_ratios
from keras_resnet.experiments.vanishing_gradients import run_vanishing_gradients

EXPERIMENTS = {"degradation": run_degradation, "shortcuts": run_shortcuts, "activations": run_activations,
               "identity": run_identity, "vanishing-gradients": run_vanishing_gradients,
               "one-layer-shortcuts": run_one_layer_shortcuts, "construction": run_construction,
               "signal-propagation": run_signal_propagation}

__all__ = ["ACTIVATION_VARIANTS", "DEFAULT_ACTIVATIONS", "DEFAULT_DEPTHS", "DEFAULT_SHORTCUTS", "EXPERIMENTS",
           "ExperimentResult", "IdentityProbe", "ModelSpec", "RECIPES", "Recipe", "SHORTCUT_VARIANTS", "Session",
           "SignalProbe", "degradation_findings", "degradation_models", "get_recipe", "gradient_ratios", "grow_into",
           "residual_additions", "residual_ratios", "run_activations", "run_construction", "run_degradation",
           "run_identity", "run_models", "run_one_layer_shortcuts", "run_shortcuts", "run_signal_propagation",
           "run_vanishing_gradients", "shortcut_term", "variant_findings"]
