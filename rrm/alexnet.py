"""AlexNet as weight tensors, for the storage analysis only (``rrm analyze --preset alexnet``).

The companion paper compresses AlexNet for a ZCU104 (reversed pruning 13x without
accuracy loss on ImageNet, peak pruning, quantization 4x, a sparse storage format:
243 MB -> 8.7 MB, 28x). AlexNet is not a MobileNet, so it is not a
:class:`rrm.spec.Spec` (whose network is MobileNet-v1's blocks and whose every field
feeds the accelerator): it is described here as the :class:`WeightLayer` list that
:mod:`rrm.compression` sizes, and no preset's spec (nor its hash) changes.

The network is the original one (Krizhevsky et al. 2012, as Caffe's bvlc_alexnet):
227x227 input; conv2, conv4 and conv5 in two groups (each filter sees half the
input channels). 60,965,224 parameters, 243.86 MB in float32 (MB = 10**6 bytes):
the paper's 61 M and 243 MB.

The per-layer keep ratios (:data:`KEEP`) are this project's statement, not the
paper's (its abstract gives only totals): Deep Compression's AlexNet ratios (Han et
al. 2016, Table 4) for the convolutions and fc8, and fc6 and fc7 at 5 % instead of
9 %, since reversed and peak pruning prune the big fully connected layers first and
hardest. They keep 4,625,722 of the 60,965,224 parameters: 13.2x, the paper's 13x.
Quantization: every weight and bias 8 bits (32 -> 8, the paper's 4x).
"""

from __future__ import annotations

from .weight_layers import WeightLayer

NAME = "alexnet"

#: Weight tensors as stored, (M, N/groups, K, K) or (M, N), and biases.
LAYERS = (
    WeightLayer("conv1", "conv", (96, 3, 11, 11), 96),
    WeightLayer("conv2", "conv", (256, 48, 5, 5), 256),
    WeightLayer("conv3", "conv", (384, 256, 3, 3), 384),
    WeightLayer("conv4", "conv", (384, 192, 3, 3), 384),
    WeightLayer("conv5", "conv", (256, 192, 3, 3), 256),
    WeightLayer("fc6", "fc", (4096, 9216), 4096),
    WeightLayer("fc7", "fc", (4096, 4096), 4096),
    WeightLayer("fc8", "fc", (1000, 4096), 1000),
)

#: Fraction of each layer's weights kept after pruning (see the module docstring).
KEEP = {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37,
        "fc6": 0.05, "fc7": 0.05, "fc8": 0.25}

#: Bits of a float parameter and of a quantized weight or bias.
FLOAT_BITS = 32
VALUE_BITS = 8

#: The paper's figures (abstract): parameters, float32 size, pruning factor, compressed size.
PAPER = {"params": 61_000_000, "float_mb": 243.0, "pruning_factor": 13.0, "quant_factor": 4.0,
         "compressed_mb": 8.7, "compression_factor": 28.0, "fps": 9.73}


def kept_weights(keep: dict[str, float] | None = None) -> dict[str, int]:
    """Weights each layer keeps at the keep ratios ``keep`` (default :data:`KEEP`)."""
    keep = KEEP if keep is None else keep
    return {layer.name: round(keep[layer.name] * layer.weights) for layer in LAYERS if layer.name in keep}
