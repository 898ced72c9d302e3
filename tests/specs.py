"""Specs shared by the Python tests (beside the presets)."""

from rrm.presets import load_preset
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec

TINY = load_preset("tiny")

#: Other widths (16-bit weights, 8-bit activations, wide BN), kernel 5 and odd
#: maps down to 1x1: drives golden onto its float64 sums and int64 BN paths.
WIDE = Spec(network=NetworkSpec(name="wide", input_size=15, input_channels=3, num_classes=5,
                                width_multiplier=0.125, blocks=((16, 2), (24, 1), (32, 2), (32, 2))),
            quant=QuantSpec(weight_bits=16, weight_frac=14, act_bits=8, act_frac=4, input_bits=8,
                            bn_mult_bits=32, bn_bias_bits=48, fc_bias_bits=48),
            hardware=HardwareSpec(kernel=5, pe_count=1, lanes=4))
