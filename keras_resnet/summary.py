"""What a model costs: parameters and FLOPs (multiply-adds), of a built model or (from the depth tables) the zoo."""

import math

from keras_resnet import naming
from keras_resnet.costs import entry_costs
from keras_resnet.zoo import ZOO, get_entry


def count_multiply_adds(model):
    """Multiply-adds of one forward pass of one image (convolutions and dense layers)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            if layer.data_format == "channels_first":
                out_c, out_h, out_w = layer.output.shape[1:]
            else:
                out_h, out_w, out_c = layer.output.shape[1:]
            if out_h is None or out_w is None:
                raise ValueError(f"FLOPs need a fixed input size; layer {layer.name} has output {layer.output.shape}")
            kernel_h, kernel_w, in_per_group, _ = layer.kernel.shape
            total += out_h * out_w * out_c * kernel_h * kernel_w * in_per_group
        elif kind == "Dense":
            total += math.prod(layer.kernel.shape)
    return int(total)


def count_weighted_layers(model):
    """Depth as the papers count it: conv and dense layers on the main path (not projections, SE or gates)."""
    return sum(1 for layer in model.layers
               if type(layer).__name__ in ("Conv2D", "Dense") and not layer.name.endswith(naming.SIDE_CONVS))


def describe(model):
    """One row: name, parameters (all and trainable), multiply-adds, depth, input shape."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return {
        "name": model.name,
        "parameters": int(model.count_params()),
        "trainable_parameters": int(trainable),
        "multiply_adds": count_multiply_adds(model),
        "weighted_layers": count_weighted_layers(model),
        "input_shape": list(model.input_shape[1:]),
    }


def zoo_table(names=None):
    """Each zoo model (default: all) at its default size, described from its settings (nothing is built)."""
    entries = [get_entry(name) for name in names] if names else list(ZOO.values())
    return [{**entry_costs(entry), "family": entry.family, "depth": entry.depth, "version": entry.version,
             "reference": entry.reference} for entry in entries]


def format_table(rows):
    """A plain-text table of zoo rows."""
    header = f"{'model':<14}{'family':<10}{'depth':>6}{'version':>8}{'params':>14}{'trainable':>14}{'GMACs':>9}  input"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row['name']:<14}{row['family']:<10}{row['depth']:>6}{row['version']:>8}"
                     f"{row['parameters']:>14,}{row['trainable_parameters']:>14,}"
                     f"{row['multiply_adds'] / 1e9:>9.3f}  {'x'.join(map(str, row['input_shape']))}")
    return "\n".join(lines)
