"""A network as its weight tensors: what the storage analysis needs, for any network.

:class:`WeightLayer` is one layer's stored weight tensor (its shape as it is
stored: (M, N/groups, K, K) for a K x K convolution, (M, N) for a pointwise or
fully connected layer) and the biases stored densely beside it. :func:`spec_weight_layers` gives
a MobileNet spec's layers (:mod:`rrm.alexnet` gives AlexNet's), so that
:mod:`rrm.compression` need not know which network it is sizing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .spec import Spec

#: Layer kinds a weight tensor may have (``conv`` standard, ``dw`` depthwise, ``pw`` pointwise, ``fc``).
KINDS = ("conv", "dw", "pw", "fc")


@dataclass(frozen=True)
class WeightLayer:
    """One layer's weight tensor: ``shape`` as stored, and ``biases`` stored densely beside it."""

    name: str
    kind: str
    shape: tuple[int, ...]
    biases: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"layer {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        ok = len(self.shape) == 2 or (len(self.shape) == 4 and self.shape[2] == self.shape[3])
        if not ok or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.shape):
            raise ValueError(f"layer {self.name!r}: shape must be (M, N) or (M, N, K, K) of positive "
                             f"integers, got {self.shape!r}")
        if self.kind in ("fc", "pw") and len(self.shape) != 2:
            raise ValueError(f"layer {self.name!r}: a {self.kind} weight is (M, N), got {self.shape!r}")
        if isinstance(self.biases, bool) or not isinstance(self.biases, int) or self.biases < 0:
            raise ValueError(f"layer {self.name!r}: biases must be an integer >= 0, got {self.biases!r}")

    @property
    def weights(self) -> int:
        return math.prod(self.shape)

    @property
    def params(self) -> int:
        """Weights and biases."""
        return self.weights + self.biases

    @property
    def rows(self) -> int:
        """CSR rows: the output channels."""
        return self.shape[0]

    @property
    def cols(self) -> int:
        """CSR row length: the weights of one output channel."""
        return self.weights // self.shape[0]

    @property
    def taps(self) -> int:
        """Taps of one K x K window (1 for an fc layer)."""
        return self.shape[2] * self.shape[3] if len(self.shape) == 4 else 1


def spec_weight_layers(spec: Spec) -> list[WeightLayer]:
    """The weight tensors of a MobileNet spec (its pruned shapes), input to output.

    Biases are left out (0): the folded BN and the FC bias are counted by the
    paper's Eq. 6/7 in :func:`rrm.analysis.layer_cost`.
    """
    out = []
    for layer in spec.layers():
        if layer.kind in ("fc", "pw"):
            out.append(WeightLayer(layer.name, layer.kind, (layer.out_channels, layer.in_channels)))
        elif layer.kind in ("conv", "dw"):
            inputs = 1 if layer.kind == "dw" else layer.in_channels
            out.append(WeightLayer(layer.name, layer.kind,
                                   (layer.out_channels, inputs, layer.kernel, layer.kernel)))
    return out


#: Kinds fine-grained pruning prunes by default in MobileNet: the pointwise and FC
#: layers hold nearly all its weights (unpruned tiny: 94.7 %); conv1 and the depthwise
#: kernels (9 weights per channel) stay dense unless named.
MOBILENET_FINE_KINDS = ("pw", "fc")


def prunable_sizes(layers: list[WeightLayer], kinds=MOBILENET_FINE_KINDS) -> dict[str, int]:
    """Weights of each layer of ``kinds``, input to output (the sizes :mod:`rrm.prune_plan` takes)."""
    return {layer.name: layer.weights for layer in layers if layer.kind in kinds}
