"""Experiments that show why residual learning works, each a function and a ``keras-resnet experiment`` command.

    from keras_resnet import experiments
    result = experiments.run_degradation("runs/degradation", depths=(20, 56))   # plain vs residual nets
    experiments.run_shortcuts("runs/shortcuts")        # Identity Mappings, Table 1
    experiments.run_activations("runs/activations")    # Identity Mappings, Table 2
    experiments.run_identity("runs/identity")          # ||F(x)|| / ||x|| per unit across training
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
from keras_resnet.experiments.degradation import DEFAULT_DEPTHS, degradation_models, run_degradation
from keras_resnet.experiments.identity import IdentityProbe, residual_additions, residual_ratios, run_identity
from keras_resnet.experiments.recipes import RECIPES, Recipe, get_recipe
from keras_resnet.experiments.report import degradation_findings, variant_findings
from keras_resnet.experiments.runner import ModelSpec, run_models
from keras_resnet.experiments.session import ExperimentResult, Session
from keras_resnet.experiments.shortcuts import DEFAULT_SHORTCUTS, SHORTCUT_VARIANTS, run_shortcuts

EXPERIMENTS = {"degradation": run_degradation, "shortcuts": run_shortcuts, "activations": run_activations,
               "identity": run_identity}

__all__ = ["ACTIVATION_VARIANTS", "DEFAULT_ACTIVATIONS", "DEFAULT_DEPTHS", "DEFAULT_SHORTCUTS", "EXPERIMENTS",
           "ExperimentResult", "IdentityProbe", "ModelSpec", "RECIPES", "Recipe", "SHORTCUT_VARIANTS", "Session",
           "degradation_findings", "degradation_models", "get_recipe", "residual_additions", "residual_ratios",
           "run_activations", "run_degradation", "run_identity", "run_models", "run_shortcuts", "variant_findings"]
