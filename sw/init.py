"""A float start point for QAT and pruning: ``rrm train --init FLOAT.pt`` (docs/init.md).

The file is a float MobileNet-v1 state dict of the spec's unpruned shape, read
with ``torch.load(weights_only=True)``, in one of two key layouts:

``rr-mobilenet``
    This project's :class:`sw.model.MobileNet` (``convs.<i>.conv.weight``,
    ``convs.<i>.bn.*``, ``fc.*``): ``torch.save(model.state_dict())``, or a
    training checkpoint (``checkpoint.pt``; its pruning masks are ignored).
``sequential``
    The common PyTorch MobileNet-v1 written as one ``nn.Sequential`` named
    ``model`` of ``conv_bn`` / ``conv_dw`` blocks plus ``fc`` (``model.0.0.weight``
    ... ``model.13.4.running_var``, ``fc.weight``): ``model.0.{0,1}`` is conv1 and
    its BN; ``model.k.{0,1}`` block k's depthwise conv and BN, ``model.k.{3,4}``
    its pointwise conv and BN (k = 1..13 for DSC2..DSC14).

Either may sit under ``state_dict``/``model``/``model_state_dict`` and carry
DataParallel's ``module.`` prefix. Anything else (not a torch file, no state
dict, unknown keys, a missing key, another shape, non-finite values) is refused
with a :class:`~rrm.errors.UserError` naming the first offending key.

Loaded weights are then made to fit the spec's clip range without changing the
float network's function: a conv output channel whose largest |weight| exceeds
the clip is scaled down, its BN's running mean and variance with it, and BN's
scale so that the inference function is exactly the same; the FC's weights and bias are scaled together (the
logits scale, the argmax does not change).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from rrm.errors import UserError
from rrm.spec import Spec, unpruned

from .model import MobileNet

LAYOUTS = ("rr-mobilenet", "sequential")
#: torchvision's ImageNet normalization, folded into conv1 by ``--init-imagenet-norm``.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_WRAPPERS = ("state_dict", "model_state_dict", "model")
_SEQUENTIAL = re.compile(r"^model\.(\d+)\.(\d+)\.(.+)$")
_OPTIONAL = ("num_batches_tracked", "mask")


def _shape(tensor) -> str:
    return "(" + ", ".join(str(d) for d in tensor.shape) + ")"


def _read(path: Path):
    path = Path(path)
    if not path.exists():
        raise UserError(f"--init {path} does not exist")
    if not path.is_file():
        raise UserError(f"--init {path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for foreign or corrupt files
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise UserError(f"--init {path} is not a torch state dict file ({reason[:160]})") from None


def _state_dict(obj, path: Path) -> dict:
    if isinstance(obj, dict) and obj.get("format") == "rr-mobilenet-checkpoint" and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    elif isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in _WRAPPERS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise UserError(f"--init {path} holds no state dict (a {type(obj).__name__}{' that is empty' if obj == {} else ''})")
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise UserError(f"--init {path}: entry {key!r} is a {type(value).__name__}, not a tensor "
                            f"(expected a MobileNet-v1 state dict)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _to_ours(key: str) -> str | None:
    """The rr-mobilenet name of a ``sequential`` layout key, or None if it has none."""
    if key.startswith("fc.") and key[3:] in ("weight", "bias"):
        return key
    match = _SEQUENTIAL.match(key)
    if not match:
        return None
    block, index, rest = int(match.group(1)), int(match.group(2)), match.group(3)
    if block == 0:
        slot = {0: (0, "conv"), 1: (0, "bn")}.get(index)
    else:
        slot = {0: (2 * block - 1, "conv"), 1: (2 * block - 1, "bn"),
                3: (2 * block, "conv"), 4: (2 * block, "bn")}.get(index)
    if slot is None or (slot[1] == "conv" and rest != "weight"):
        return None
    return f"convs.{slot[0]}.{slot[1]}.{rest}"


def _from_ours(key: str) -> str:
    """The ``sequential`` layout key of an rr-mobilenet key (inverse of :func:`_to_ours`)."""
    parts = key.split(".")
    if parts[0] != "convs":
        return key
    i, module, rest = int(parts[1]), parts[2], ".".join(parts[3:])
    if i == 0:
        block, index = 0, {"conv": 0, "bn": 1}[module]
    elif i % 2:
        block, index = (i + 1) // 2, {"conv": 0, "bn": 1}[module]
    else:
        block, index = i // 2, {"conv": 3, "bn": 4}[module]
    return f"model.{block}.{index}.{rest}"


def _layout(state: dict, path: Path) -> str:
    keys = list(state)
    if any(k.startswith("convs.") for k in keys):
        return "rr-mobilenet"
    if any(_SEQUENTIAL.match(k) for k in keys):
        return "sequential"
    raise UserError(f"--init {path}: keys such as {keys[0]!r} are neither rr-mobilenet's (convs.<i>.conv.weight) "
                    f"nor the Sequential MobileNet-v1 layout (model.<k>.<j>.weight); see docs/init.md")


def load_init(path: str | Path, spec: Spec, imagenet_norm: bool = False) -> tuple[MobileNet, dict]:
    """The float MobileNet of ``unpruned(spec)`` with the weights of ``path``, and a description.

    Raises UserError (one line) naming the first key that is missing, unexpected,
    of another shape or not finite.
    """
    path = Path(path)
    state = _state_dict(_read(path), path)
    layout = _layout(state, path)
    model = MobileNet(unpruned(spec))
    names = {c.name: i for i, c in enumerate(model.convs)}
    index_name = {i: n for n, i in names.items()}
    if layout == "rr-mobilenet":
        theirs_of = {k: k for k in state}
    else:
        theirs_of = {}
        for key in state:
            ours = _to_ours(key)
            if ours is None:
                raise UserError(f"--init {path}: key {key!r} has no counterpart in MobileNet-v1 "
                                f"(sequential layout: model.<k>.{{0,1,3,4}}, fc; see docs/init.md)")
            theirs_of[ours] = key
    expected = model.state_dict()
    for ours in theirs_of:
        if ours not in expected:
            raise UserError(f"--init {path}: key {theirs_of[ours]!r} has no counterpart in the spec's "
                            f"MobileNet-v1 ({len(model.convs)} conv layers, see docs/init.md)")
    loaded = {}
    for ours, want in expected.items():
        parts = ours.split(".")
        what = ours if parts[0] != "convs" else f"{index_name[int(parts[1])]} {'.'.join(parts[2:])}"
        if ours not in theirs_of:
            if ours.endswith(_OPTIONAL):
                loaded[ours] = want
                continue
            missing = ours if layout == "rr-mobilenet" else _from_ours(ours)
            raise UserError(f"--init {path}: no key {missing!r} (the spec's {what}, shape {_shape(want)}; "
                            f"{layout} layout)")
        key = theirs_of[ours]
        value = state[key]
        if ours.endswith("mask"):  # a float start point: every channel kept
            loaded[ours] = want
            continue
        if tuple(value.shape) != tuple(want.shape):
            raise UserError(f"--init {path}: key {key!r} has shape {_shape(value)} but the spec's {what} "
                            f"has shape {_shape(want)}")
        if ours.endswith("num_batches_tracked"):
            loaded[ours] = value.to(want.dtype)
            continue
        if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
            raise UserError(f"--init {path}: key {key!r} is not a finite floating-point tensor ({value.dtype})")
        loaded[ours] = value.to(want.dtype)
    model.load_state_dict(loaded)
    info = {"path": str(path), "layout": layout, "imagenet_norm": imagenet_norm}
    if imagenet_norm:
        fold_input_normalization(model, IMAGENET_MEAN, IMAGENET_STD)
    info["rescaled_channels"] = fit_clip_range(model, spec)
    return model, info


@torch.no_grad()
def fold_input_normalization(model: MobileNet, mean, std) -> None:
    """Make conv1 take this project's input ``(p - 128) / 128`` instead of ``(p / 255 - mean) / std``.

    ``(p/255 - m)/s = a*x + b`` with ``a = 128/(255 s)``, ``b = (128/255 - m)/s``:
    conv1's weights are scaled by ``a`` per input channel and the constant
    ``sum(W*b)`` moves into conv1's BN running mean (exact away from the border,
    where the zero padding stands for a slightly different value).
    """
    conv = model.convs[0]
    channels = conv.conv.weight.shape[1]
    if channels != len(mean):
        raise UserError(f"--init-imagenet-norm needs {len(mean)} input channels, the spec has {channels}")
    half = 128.0
    a = torch.tensor([half / (255.0 * s) for s in std])
    b = torch.tensor([(half / 255.0 - m) / s for m, s in zip(mean, std)])
    weight = conv.conv.weight
    constant = (weight * b.view(1, -1, 1, 1)).sum(dim=(1, 2, 3))
    weight.mul_(a.view(1, -1, 1, 1))
    conv.bn.running_mean.sub_(constant)


@torch.no_grad()
def fit_clip_range(model: MobileNet, spec: Spec) -> int:
    """Scale weights into [clip_min, clip_max] without changing the float function; returns channels scaled."""
    limit = min(-spec.quant.clip_min, spec.quant.clip_max)
    scaled = 0
    for layer in model.convs:
        weight = layer.conv.weight
        peak = weight.abs().flatten(1).amax(dim=1)
        factor = torch.where(peak > limit, limit / peak.clamp_min(1e-30), torch.ones_like(peak))
        if bool((factor < 1).any()):
            scaled += int((factor < 1).sum())
            weight.mul_(factor.view(-1, 1, 1, 1))
            bn = layer.bn
            # gamma' (a z - a mu) / sqrt(a^2 var + eps) == gamma (z - mu) / sqrt(var + eps): exact, eps included.
            old_std = (bn.running_var + bn.eps).sqrt()
            bn.running_mean.mul_(factor)
            bn.running_var.mul_(factor * factor)
            bn.weight.mul_((bn.running_var + bn.eps).sqrt() / (factor * old_std))
    peak = float(model.fc.weight.abs().max())
    if peak > limit and math.isfinite(peak):
        model.fc.weight.mul_(limit / peak)
        model.fc.bias.mul_(limit / peak)
        scaled += model.fc.weight.shape[0]
    return scaled
