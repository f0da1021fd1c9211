"""The papers' published CIFAR-10 test errors (%), cited beside our measurements.

All are with the papers' full recipe (64k iterations, batch 128, pad-4 crop +
flip, 50k training images); a tiny budget on other data is not comparable in
absolute terms, only in ranking. "fail" means test error above 20 % (Identity
Mappings, Table 1 caption).
"""

DEEP_RESIDUAL_LEARNING = "He et al. 2015, Deep Residual Learning for Image Recognition"
IDENTITY_MAPPINGS = "He et al. 2016, Identity Mappings in Deep Residual Networks"

# Deep Residual Learning, Table 6 (CIFAR-10 test error, option-A shortcuts). The plain
# nets appear only as curves (Figure 6): plain-56 has higher training error than plain-20.
RESNET_CIFAR10 = {20: "8.75", 32: "7.51", 44: "7.17", 56: "6.97", 110: "6.43", 1202: "7.93"}

# Identity Mappings, Table 1: ResNet-110 on CIFAR-10, shortcut variants of Fig. 2
# (median of 5 runs). Keys are this package's variant names.
SHORTCUTS_RESNET110 = {
    "original": "6.61",
    "constant_scaling": "fail",  # 0.5 on the shortcut, 1 on F
    "constant_scaling_both": "12.35",  # 0.5 on both ("frozen gating")
    "exclusive_gating": "8.70",  # b_g = -6
    "exclusive_gating_b0": "fail",  # b_g = 0 to -5
    "exclusive_gating_b7": "9.81",  # b_g = -7
    "shortcut_gating": "6.91",  # b_g = -6
    "shortcut_gating_b0": "12.86",  # b_g = 0
    "conv1x1": "12.22",
    "dropout": "fail",  # ratio 0.5
}

# Identity Mappings, Table 2: activation orders of Fig. 4 (ResNet-110 and ResNet-164 on CIFAR-10).
ACTIVATIONS_RESNET110 = {"post_activation": "6.61", "bn_after_addition": "8.17", "relu_before_addition": "7.84",
                         "relu_preactivation": "6.71", "full_preactivation": "6.37"}
ACTIVATIONS_RESNET164 = {"post_activation": "5.93", "bn_after_addition": "6.50", "relu_before_addition": "6.14",
                         "relu_preactivation": "5.91", "full_preactivation": "5.46"}
