"""Training checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain values and tensors::

    {"format": "rr-mobilenet-checkpoint", "version": 1,
     "spec": spec.to_dict(), "config": {...TrainConfig...},
     "progress": {"phase": "qat", "phase_index": 1, "epochs_done": 3, "finished": False},
     "model": state_dict (the unpruned-shape model with its pruning masks),
     "optimizer": state_dict or None, "history": [per-epoch metrics],
     "metrics": {"summary": {...}}, "elapsed_s": float}

Anything else (another program's file, a truncated or corrupt file, another
spec's model) is refused with a :class:`~rrm.errors.UserError` naming the problem.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from rrm.errors import SpecError, UserError
from rrm.spec import Spec, unpruned

from .model import MobileNet

CHECKPOINT_FORMAT = "rr-mobilenet-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` through a temporary file in the same directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = dict(state, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            torch.save(state, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict:
    """Read and check a checkpoint (format, version, spec); UserError if it is not ours or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt/foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint {path} is corrupt or not a torch checkpoint ({reason[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"checkpoint {path} is not an rr-mobilenet training checkpoint "
                        f"(format {state.get('format') if isinstance(state, dict) else type(state).__name__!r})")
    if state.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"checkpoint {path}: version {state.get('version')!r} is not supported "
                        f"(expected {CHECKPOINT_VERSION})")
    for key in ("spec", "config", "progress", "model"):
        if key not in state:
            raise UserError(f"checkpoint {path} lacks '{key}'")
    try:
        Spec.from_dict(state["spec"])
    except SpecError as exc:
        raise UserError(f"checkpoint {path}: bad spec: {exc}") from None
    state["_path"] = str(path)
    return state


def model_from_checkpoint(state: dict) -> tuple[Spec, MobileNet]:
    """The spec and the (unpruned-shape, masked) model a checkpoint holds."""
    spec = Spec.from_dict(state["spec"])
    model = MobileNet(unpruned(spec))
    weights = dict(state["model"])
    for key, value in model.state_dict().items():
        if key.endswith("weight_mask"):
            weights.setdefault(key, value)  # a checkpoint from before fine-grained pruning: nothing pruned
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint {state.get('_path', '')}: model weights do not fit the spec "
                        f"({first[:200]})") from None
    model.quantized = state["progress"].get("quantized", False)
    return spec, model
