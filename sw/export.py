"""Export a trained (pruned, QAT) model as integer weights with folded BN (docs/design.md §5.2, §6).

For a conv/dw/pw layer with input fraction Fi (``input_frac`` for conv1,
``act_frac`` after), weights ``w = W * 2**-Fw`` and BN ``y = a*z + c`` with
``a = gamma / sqrt(var + eps)``, ``c = beta - a*mean``, the integer accumulator
``acc`` stands for ``z = acc * 2**-(Fw+Fi)`` and the activation integer is
``round(y * 2**Fa)``. So, per output channel::

    slope  = a * 2**(Fa - Fw - Fi)      offset = c * 2**Fa
    m = round(slope * 2**s)             b = round(offset * 2**s)

and ``(acc*m + b + 2**(s-1)) >> s`` rounds ``slope*acc + offset``. The layer's
shift ``s`` is the largest (<= ``rrm.numerics.MAX_SHIFT``) for which every ``m`` fits
``bn_mult_bits`` and every ``b`` fits ``bn_bias_bits`` (:func:`rrm.numerics.fit_shift`):
the multipliers keep as many bits as they can.

The FC takes the pool *sum* (no division): the real logit is
``sum_c W_kc 2**-Fw * pool_c / (H*W * 2**Fa) + bias_k``, so the integer logit
``sum_c pool_c * W_kc + round(bias_k * H*W * 2**(Fw+Fa))`` is the real one times
the positive constant H*W*2**(Fw+Fa): argmax (the class) is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rrm.artifact import ArtifactError, save_artifact
from rrm.numerics import fit_shift, signed_range
from rrm.spec import Spec


def fold_bn(slope: np.ndarray, offset: np.ndarray, mult_bits: int, bias_bits: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer (m, b, s) for ``y = slope*acc + offset``: the largest shift that fits both widths."""
    biggest_slope = float(np.abs(slope).max(initial=0.0))
    biggest_offset = float(np.abs(offset).max(initial=0.0))
    # m and b are rounded, so leave half a unit of headroom below the limits.
    shift = fit_shift(biggest_slope, biggest_offset, mult_bits, bias_bits, headroom=0.5)
    if shift < 0:
        raise ArtifactError(f"BN cannot be folded: slope {biggest_slope:.3g} / offset {biggest_offset:.3g} "
                            f"do not fit {mult_bits}/{bias_bits}-bit integers even with shift 0")
    mult = np.rint(slope * 2.0 ** shift).astype(np.int64)
    bias = np.rint(offset * 2.0 ** shift).astype(np.int64)
    return mult, bias, int(shift)


def weight_ints(weight: torch.Tensor, spec: Spec) -> np.ndarray:
    """Integer weights exactly as QAT's forward pass sees them: round(clip(w) * 2**Fw)."""
    quant = spec.quant
    lo, hi = quant.weight_int_range
    scaled = weight.detach().to(torch.float64).cpu().numpy() * 2.0 ** quant.weight_frac
    return np.clip(np.rint(scaled), lo, hi).astype(np.int64)


@torch.no_grad()
def integer_params(model, spec: Spec) -> dict[str, np.ndarray]:
    """The artifact arrays of ``model``, a (shrunk) MobileNet built for ``spec``."""
    quant = spec.quant
    params: dict[str, np.ndarray] = {}
    layers = {l.name: l for l in spec.layers()}
    for conv in model.convs:
        layer = layers[conv.name]
        if tuple(conv.conv.weight.shape[:2]) != (layer.out_channels, 1 if layer.kind == "dw" else layer.in_channels):
            raise ArtifactError(f"{conv.name}: model has weight shape {tuple(conv.conv.weight.shape)}, "
                                f"spec wants {layer.weight_shape}")
        w = weight_ints(conv.conv.weight, spec)
        if layer.kind == "dw":
            w = w[:, 0]
        elif layer.kind == "pw":
            w = w[:, :, 0, 0]
        bn = conv.bn
        var = bn.running_var.double().cpu().numpy()
        a = bn.weight.double().cpu().numpy() / np.sqrt(var + bn.eps)
        c = bn.bias.double().cpu().numpy() - a * bn.running_mean.double().cpu().numpy()
        in_frac = quant.input_frac if layer.kind == "conv" else quant.act_frac
        slope = a * 2.0 ** (quant.act_frac - quant.weight_frac - in_frac)
        offset = c * 2.0 ** quant.act_frac
        mult, bias, shift = fold_bn(slope, offset, quant.bn_mult_bits, quant.bn_bias_bits)
        params[f"{layer.name}.weight"] = w
        params[f"{layer.name}.bn_mult"] = mult
        params[f"{layer.name}.bn_bias"] = bias
        params[f"{layer.name}.shift"] = np.array(shift, dtype=np.int64)
    pool = layers["pool"]
    scale = pool.in_h * pool.in_w * 2.0 ** (quant.weight_frac + quant.act_frac)
    fc_bias = np.rint(model.fc.bias.double().cpu().numpy() * scale).astype(np.int64)
    lo, hi = signed_range(quant.fc_bias_bits)
    if fc_bias.size and (fc_bias.min() < lo or fc_bias.max() > hi):
        raise ArtifactError(f"fc.bias: folded bias {int(np.abs(fc_bias).max())} does not fit "
                            f"{quant.fc_bias_bits} bits")
    params["fc.weight"] = weight_ints(model.fc.weight, spec)
    params["fc.bias"] = fc_bias
    return params


def export_model(model, spec: Spec, out: str | Path, metrics: dict | None = None,
                 provenance: dict | None = None) -> Path:
    """Fold ``model`` (built for ``spec``, pruned and shrunk) and write the artifact to ``out``."""
    return save_artifact(out, spec, integer_params(model, spec), metrics=metrics, provenance=provenance)


def export_checkpoint(checkpoint: str | Path, out: str | Path) -> Path:
    """Export the model of a ``rrm train`` checkpoint whose pruning has finished."""
    from rrm.errors import UserError

    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .model import shrink
    from .pruning import pruning_done

    state = load_checkpoint(checkpoint)
    spec, model = model_from_checkpoint(state)
    if not pruning_done(model, spec):
        raise UserError(f"checkpoint {checkpoint}: pruning has not reached the spec's channel counts yet "
                        f"(phase {state['progress']['phase']!r}); resume training first")
    small = shrink(model, spec)
    small.quantized = True
    return export_model(small, spec, out, metrics=state.get("metrics", {}).get("summary", {}),
                        provenance={"source": "checkpoint", "checkpoint": Path(checkpoint).name,
                                    "seed": state["config"].get("seed")})
