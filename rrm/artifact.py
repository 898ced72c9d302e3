"""The export artifact: integer weights + folded BN of one network, and its validation.

An artifact is a directory holding two files (format: docs/artifact.md):

``weights.npz``
    Integer arrays only, loaded with ``allow_pickle=False``. For each layer ``L``
    of kind conv/dw/pw: ``L.weight`` (``layer.weight_shape``), ``L.bn_mult`` (M,),
    ``L.bn_bias`` (M,), ``L.shift`` (shape ()); for ``fc``: ``fc.weight``
    (classes, C) and ``fc.bias`` (classes,).
``manifest.json``
    ``{"format": "rr-mobilenet-artifact", "version": 2, "spec": ..., "numerics": ...,
    "metrics": ..., "provenance": ..., "files": {"weights.npz": "<sha256>"},
    "manifest_sha256": "<sha256>"}``; ``manifest_sha256`` covers every other
    key of the manifest (:func:`manifest_digest`), so no byte that decides the
    results (the spec, the numerics, the weights' checksum) can change unnoticed.

Every reader goes through :func:`load_artifact`, which checks the format, the
version, both checksums, that the numerics agree with the spec, every key,
shape, dtype and value range, and raises
:class:`ArtifactError` naming the file, the key and the problem. Writers go
through :func:`save_artifact`, which validates the same way and writes into a
temporary sibling directory that is renamed into place only when complete.

This module needs numpy only (no torch): the golden model and the hardware
generator import it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import SpecError, UserError
from .numerics import MAX_SHIFT, signed_range
from .safe_io import read_json, read_npz
from .spec import Spec

FORMAT = "rr-mobilenet-artifact"
VERSION = 2
MANIFEST = "manifest.json"
WEIGHTS = "weights.npz"


class ArtifactError(UserError):
    """An artifact is missing, corrupt, of another format/version, or out of range."""


def storage_dtype(bits: int) -> np.dtype:
    """Smallest signed numpy integer dtype that holds a signed ``bits``-wide value."""
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        if bits <= np.iinfo(dtype).bits:
            return np.dtype(dtype)
    raise ArtifactError(f"no integer dtype holds {bits} bits")


@dataclass(frozen=True)
class ArraySpec:
    """What one array of the artifact must look like: shape, value range, storage width."""

    key: str
    shape: tuple[int, ...]
    lo: int
    hi: int
    bits: int


def expected_arrays(spec: Spec) -> dict[str, ArraySpec]:
    """Every array an artifact of ``spec`` holds, by key, in layer order."""
    quant = spec.quant
    wlo, whi = quant.weight_int_range
    mlo, mhi = signed_range(quant.bn_mult_bits)
    blo, bhi = signed_range(quant.bn_bias_bits)
    flo, fhi = signed_range(quant.fc_bias_bits)
    out: dict[str, ArraySpec] = {}

    def add(key, shape, lo, hi, bits):
        out[key] = ArraySpec(key, tuple(shape), lo, hi, bits)

    for layer in spec.layers():
        name = layer.name
        if layer.kind in ("conv", "dw", "pw"):
            m = layer.out_channels
            add(f"{name}.weight", layer.weight_shape, wlo, whi, quant.weight_bits)
            add(f"{name}.bn_mult", (m,), mlo, mhi, quant.bn_mult_bits)
            add(f"{name}.bn_bias", (m,), blo, bhi, quant.bn_bias_bits)
            add(f"{name}.shift", (), 0, MAX_SHIFT, 8)
        elif layer.kind == "fc":
            add(f"{name}.weight", layer.weight_shape, wlo, whi, quant.weight_bits)
            add(f"{name}.bias", (layer.out_channels,), flo, fhi, quant.fc_bias_bits)
    return out


def numerics(spec: Spec) -> dict[str, Any]:
    """The integer semantics an artifact is meant to be run with (docs/design.md §6), for the manifest."""
    quant = spec.quant
    return {
        "input": f"x = p - {1 << (quant.input_bits - 1)} for uint{quant.input_bits} pixel p, "
                 f"channels-last (N, H, W, C)",
        "input_offset": 1 << (quant.input_bits - 1),
        "padding": "zero padding of K//2 on every side (value 0 after the input shift)",
        "requant": "y = clamp((acc * bn_mult[c] + bn_bias[c] + r) >> shift, 0, act_max), "
                   "r = 2**(shift-1) if shift > 0 else 0, arithmetic shift",
        "act_max": quant.act_max,
        "pool": "integer sum over H x W per channel",
        "fc": "logit[k] = sum_c pool[c] * weight[k, c] + bias[k]; class = argmax, ties to lowest index",
        "weight_int_range": list(quant.weight_int_range),
        "weight_scale": f"2**-{quant.weight_frac}",
        "act_scale": f"2**-{quant.act_frac}",
        "input_scale": f"2**-{quant.input_frac}",
    }


@dataclass
class Artifact:
    """A loaded (validated) artifact.

    Members
    -------
    spec : Spec
        The network the weights belong to (from the manifest).
    params : dict of str to numpy.ndarray
        Every array of ``weights.npz``, as int64.
    manifest : dict
        The parsed ``manifest.json`` (metrics, provenance, numerics, files).
    """

    spec: Spec
    params: dict[str, np.ndarray]
    manifest: dict = field(default_factory=dict)

    def layer(self, name: str) -> dict[str, Any]:
        """One layer's parameters: weight/bn_mult/bn_bias/shift (int), or weight/bias for fc."""
        layer = self.spec.layer(name)
        if layer.kind in ("conv", "dw", "pw"):
            return {
                "weight": self.params[f"{name}.weight"],
                "bn_mult": self.params[f"{name}.bn_mult"],
                "bn_bias": self.params[f"{name}.bn_bias"],
                "shift": int(self.params[f"{name}.shift"]),
            }
        if layer.kind == "fc":
            return {"weight": self.params[f"{name}.weight"], "bias": self.params[f"{name}.bias"]}
        raise ArtifactError(f"layer {name!r} ({layer.kind}) has no parameters")

    @property
    def metrics(self) -> dict:
        return self.manifest.get("metrics", {})


def validate_params(spec: Spec, params: Mapping[str, Any], source: str = "params") -> dict[str, np.ndarray]:
    """Check ``params`` against ``spec``; return them as int64 arrays.

    Raises ArtifactError naming ``source``, the key and the problem for a missing
    or unexpected key, a non-integer dtype, a wrong shape or a value out of range.
    """
    expected = expected_arrays(spec)
    missing = [key for key in expected if key not in params]
    if missing:
        raise ArtifactError(f"{source}: missing array '{missing[0]}'"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    unexpected = sorted(key for key in params if key not in expected)
    if unexpected:
        raise ArtifactError(f"{source}: unexpected array '{unexpected[0]}' (not a parameter of this spec)")
    out = {}
    for key, want in expected.items():
        value = params[key]
        array = np.asarray(value)
        if array.dtype.kind not in "iu":
            raise ArtifactError(f"{source}: array '{key}' has dtype {array.dtype} (must be an integer type)")
        if array.shape != want.shape:
            raise ArtifactError(f"{source}: array '{key}' has shape {array.shape} (expected {want.shape})")
        if array.size:
            lo, hi = int(array.min()), int(array.max())
            if lo < want.lo or hi > want.hi:
                bad = lo if lo < want.lo else hi
                raise ArtifactError(f"{source}: array '{key}' holds {bad}, out of range "
                                    f"(allowed: {want.lo}..{want.hi})")
        out[key] = array.astype(np.int64)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_safe(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{what} is not JSON-serialisable ({exc})") from None


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """sha256 of the manifest without its ``manifest_sha256`` key (canonical JSON: sorted
    keys, no whitespace)."""
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_artifact(path: str | os.PathLike, spec: Spec, params: Mapping[str, Any],
                  metrics: dict | None = None, provenance: dict | None = None) -> Path:
    """Validate ``params`` and write the artifact directory ``path``; return it.

    The files go into a temporary sibling directory that is renamed to ``path``
    only once complete; an existing artifact at ``path`` is replaced. A path
    that exists but is not an artifact directory is refused.
    """
    path = Path(path)
    clean = validate_params(spec, params)
    expected = expected_arrays(spec)
    if path.exists() and not (path.is_dir() and ((path / MANIFEST).is_file() or not any(path.iterdir()))):
        raise ArtifactError(f"{path} exists and is not an artifact directory; refusing to overwrite it")
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        arrays = {key: clean[key].astype(storage_dtype(expected[key].bits)) for key in expected}
        with open(tmp / WEIGHTS, "wb") as handle:
            np.savez(handle, **arrays)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "spec": spec.to_dict(),
            "numerics": numerics(spec),
            "metrics": _json_safe(metrics or {}, "metrics"),
            "provenance": _json_safe(provenance or {}, "provenance"),
            "files": {WEIGHTS: _sha256(tmp / WEIGHTS)},
        }
        manifest["manifest_sha256"] = manifest_digest(manifest)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / "artifact")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_artifact(path: str | os.PathLike) -> Artifact:
    """Load and validate the artifact directory ``path`` (or its manifest.json)."""
    path = Path(path)
    if path.name == MANIFEST and path.is_file():
        path = path.parent
    if not path.exists():
        raise ArtifactError(f"artifact {path} does not exist")
    if not path.is_dir():
        raise ArtifactError(f"artifact {path} is not a directory (expected a directory with {MANIFEST})")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{manifest_path} is missing: {path} is not an artifact directory")
    manifest = read_json(manifest_path, error=ArtifactError)
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{manifest_path} must hold a JSON object")
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{manifest_path}: format is {manifest.get('format')!r} (expected {FORMAT!r})")
    if type(manifest.get("version")) is not int or manifest.get("version") != VERSION:
        hint = (": its manifest has no checksum of its own; export it again"
                if manifest.get("version") == 1 else "")
        raise ArtifactError(f"{manifest_path}: version {manifest.get('version')!r} is not supported "
                            f"(this reader understands version {VERSION}){hint}")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise ArtifactError(f"{manifest_path}: manifest checksum mismatch: the manifest (its spec, "
                            f"numerics or file checksums) was changed after export")
    try:
        spec = Spec.from_dict(manifest.get("spec"))
    except SpecError as exc:
        raise ArtifactError(f"{manifest_path}: bad spec: {exc}") from None
    if manifest.get("numerics") != numerics(spec):
        raise ArtifactError(f"{manifest_path}: the numerics block does not agree with the spec "
                            f"(expected {numerics(spec)})")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != {WEIGHTS}:
        raise ArtifactError(f"{manifest_path}: 'files' must list exactly {WEIGHTS!r} with its sha256")
    weights_path = path / WEIGHTS
    if not weights_path.is_file():
        raise ArtifactError(f"{weights_path} is missing")
    digest = _sha256(weights_path)
    if digest != files[WEIGHTS]:
        raise ArtifactError(f"{weights_path}: checksum mismatch (sha256 {digest[:16]}..., manifest says "
                            f"{str(files[WEIGHTS])[:16]}...): the file is corrupt or was changed")
    raw = read_npz(weights_path, error=ArtifactError)
    params = validate_params(spec, raw, source=str(weights_path))
    return Artifact(spec=spec, params=params, manifest=manifest)

