"""Layer names by role: the builders name layers with these, and every module that finds a layer uses them.

Names no other module looks up (a gate's complement, a drop-path) stay literal in ``blocks.py``.
Names follow keras.applications (``conv1_conv``, ``conv2_block1_1_conv``, ``predictions``), so weight
files map between the two by name. A unit named ``conv{stage}_block{unit}`` prefixes every layer it builds.
"""

import re

PREPROCESSING = "preprocessing"  # the Rescaling layer that takes raw 0-255 pixels
STEM = "conv1"  # prefix of the stem's layers
CONV, BN, RELU, PAD = "_conv", "_bn", "_relu", "_pad"  # what a conv or a bn/relu op appends to its prefix
FIRST_CONV = STEM + CONV  # the 7x7 (ImageNet) or 3x3 (CIFAR) stem convolution
FINAL_ACTIVATION = "post"  # prefix of the bn/relu after the last unit (pre-activation nets)
AVERAGE_POOL, MAX_POOL, TOP_DROPOUT, PREDICTIONS = "avg_pool", "max_pool", "top_dropout", "predictions"
HEAD_LAYERS = (AVERAGE_POOL, TOP_DROPOUT, PREDICTIONS)  # the classifier include_top adds

# Suffixes of a unit's layers (appended to its name).
PREACTIVATION = "_preact"  # bn/relu before the branch
SHORTCUT = "_0"  # the shortcut's layers: _0_conv, _0_bn (projection), _0_subsample, _0_zeropad, _0_pool
PROJECTION_CONV = SHORTCUT + CONV
GATE_CONV = "_gate_conv"  # the gate g(x) of the gated shortcuts
SE_SQUEEZE, SE_REDUCE, SE_EXPAND, SE_EXCITE = "_se_squeeze", "_se_reduce", "_se_expand", "_se_excite"
UNIT_ADD = "_add"  # the addition shortcut + F, when bn/relu follow it
UNIT_OUTPUT = "_out"  # the unit's last layer: the addition where nothing follows it, else the last op
AFTER_ADDITION = "_post"  # prefix of the bn/relu after the addition
# Convolutions off the main path: the papers' depth does not count them.
SIDE_CONVS = (PROJECTION_CONV, GATE_CONV, SE_REDUCE, SE_EXPAND)

_RESIDUAL_ADDITION = re.compile(rf"^(conv\d+_block\d+)(?:{UNIT_ADD}|{UNIT_OUTPUT})$")


def unit_name(stage, unit):
    """``conv{stage}_block{unit}``: stage 2 is the first after the stem, units count from 1."""
    return f"conv{stage}_block{unit}"


def residual_addition_unit(layer_name):
    """``conv3_block2`` for ``conv3_block2_add`` or ``conv3_block2_out`` (the addition's possible names), else None.

    ``_out`` names the unit's last layer: the addition in orders with nothing after it, else a ReLU.
    """
    match = _RESIDUAL_ADDITION.match(layer_name)
    return match.group(1) if match else None
