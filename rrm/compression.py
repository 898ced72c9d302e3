"""Storage of a pruned network, per layer and in total: dense against each sparse format.

For every weight layer (:class:`rrm.weight_layers.WeightLayer`) it gives the dense
size (float and quantized), and the size in CSR with relative indices and as a
window bitmap (:mod:`rrm.sparse_formats`), each split into the nonzero values and
the index overhead, plus CSR at the index width that is smallest for that layer.
Biases are stored densely beside the weights in every format.

Two sources: the weights themselves (:func:`exact_storage`: the real encoders on the
integer arrays, e.g. an artifact's), or only how many weights each layer keeps
(:func:`expected_storage`: the expectations of :mod:`rrm.sparse_sizes`, the kept
weights placed at random). Sizes are in bits.
"""

from __future__ import annotations

import numpy as np

from .sparse_formats import check_index_bits, check_value_bits, csr_bits, encode_csr, encode_window, window_bits
from .sparse_sizes import expected_csr_bits, expected_window_bits
from .weight_layers import WeightLayer

#: The formats, in the order the report shows them.
FORMATS = ("dense", "csr", "csr_best", "window")
#: Index widths tried for ``csr_best``.
BEST_INDEX_BITS = range(1, 17)


def _with_biases(parts: dict, bias_bits: int) -> dict:
    out = {key: value for key, value in parts.items() if key not in ("entries", "windows")}
    out["biases"] = bias_bits
    out["total"] = parts["total"] + bias_bits
    return out


def _row(layer: WeightLayer, kept: int, value_bits: int, bias_bits: int, float_bits: int,
         csr: dict, csr_best: tuple[int, dict], window: dict) -> dict:
    biases = layer.biases * bias_bits
    dense = {"values": layer.weights * value_bits, "overhead": 0, "biases": biases,
             "total": layer.weights * value_bits + biases}
    best_bits, best = csr_best
    row = {"name": layer.name, "kind": layer.kind, "shape": list(layer.shape), "weights": layer.weights,
           "biases": layer.biases, "kept": int(kept), "density": kept / layer.weights,
           "float_bits": layer.params * float_bits, "dense": dense, "csr": _with_biases(csr, biases),
           "csr_best": dict(_with_biases(best, biases), index_bits=best_bits),
           "window": _with_biases(window, biases)}
    row["best"] = min(("dense", "csr", "csr_best", "window"), key=lambda f: row[f]["total"])
    return row


def _check_bits(value_bits: int, index_bits: int, bias_bits: int, float_bits: int) -> None:
    check_value_bits(value_bits)
    check_index_bits(index_bits)
    for name, bits in (("bias_bits", bias_bits), ("float_bits", float_bits)):
        if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {bits!r}")


def expected_layer(layer: WeightLayer, kept: int, value_bits: int, index_bits: int, bias_bits: int,
                   float_bits: int = 32) -> dict:
    """One layer's row when it keeps ``kept`` weights at random places (expected sizes)."""
    _check_bits(value_bits, index_bits, bias_bits, float_bits)
    if isinstance(kept, bool) or not isinstance(kept, (int, np.integer)) or not 0 <= kept <= layer.weights:
        raise ValueError(f"layer {layer.name!r}: kept must be an integer in 0..{layer.weights}, got {kept!r}")
    csr = expected_csr_bits(layer.rows, layer.cols, kept, value_bits, index_bits)
    best = min(((b, expected_csr_bits(layer.rows, layer.cols, kept, value_bits, b)) for b in BEST_INDEX_BITS),
               key=lambda pair: pair[1]["total"])
    window = expected_window_bits(layer.shape[0], layer.shape[1], layer.taps, kept, value_bits)
    return _row(layer, int(kept), value_bits, bias_bits, float_bits, csr, best, window)


def exact_layer(layer: WeightLayer, weight, value_bits: int, index_bits: int, bias_bits: int,
                float_bits: int = 32) -> dict:
    """One layer's row from its integer weights (the encoders' exact sizes)."""
    _check_bits(value_bits, index_bits, bias_bits, float_bits)
    array = np.asarray(weight)
    if tuple(array.shape) != tuple(layer.shape):
        raise ValueError(f"layer {layer.name!r}: weight has shape {tuple(array.shape)}, expected {layer.shape}")
    csr = csr_bits(encode_csr(array, index_bits), value_bits)
    best = min(((b, csr_bits(encode_csr(array, b), value_bits)) for b in BEST_INDEX_BITS),
               key=lambda pair: pair[1]["total"])
    window = window_bits(encode_window(array), value_bits)
    return _row(layer, int(np.count_nonzero(array)), value_bits, bias_bits, float_bits, csr, best, window)


def _total(rows: list[dict], settings: dict) -> dict:
    total = {"weights": sum(r["weights"] for r in rows), "biases": sum(r["biases"] for r in rows),
             "kept": sum(r["kept"] for r in rows), "float_bits": sum(r["float_bits"] for r in rows)}
    total["params"] = total["weights"] + total["biases"]
    total["kept_params"] = total["kept"] + total["biases"]
    for name in FORMATS:
        keys = rows[0][name].keys() - {"index_bits"}
        total[name] = {key: sum(r[name][key] for r in rows) for key in keys}
    total["best_per_layer"] = sum(r[r["best"]]["total"] for r in rows)
    return {"settings": settings, "layers": rows, "total": total}


def expected_storage(layers: list[WeightLayer], kept: dict[str, int], value_bits: int, index_bits: int,
                     bias_bits: int | None = None, float_bits: int = 32) -> dict:
    """Storage of ``layers`` when layer L keeps ``kept[L]`` weights (absent: all), expected sizes.

    Returns ``{"settings", "layers": [row per layer], "total"}``; a row has the
    layer's ``weights``, ``biases``, ``kept``, ``density``, ``float_bits`` (all its
    parameters at ``float_bits``) and one dict of bits per format of :data:`FORMATS`
    (``values``, ``overhead`` and its parts, ``biases``, ``total``), and ``best``.
    """
    if not layers:
        raise ValueError("no layers to size")
    unknown = set(kept) - {layer.name for layer in layers}
    if unknown:
        raise ValueError(f"kept names no layer: {', '.join(sorted(unknown))}")
    bias_bits = value_bits if bias_bits is None else bias_bits
    rows = [expected_layer(layer, kept.get(layer.name, layer.weights), value_bits, index_bits, bias_bits,
                           float_bits) for layer in layers]
    return _total(rows, {"source": "expected", "value_bits": value_bits, "index_bits": index_bits,
                         "bias_bits": bias_bits, "float_bits": float_bits})


def exact_storage(layers: list[WeightLayer], weights: dict[str, np.ndarray], value_bits: int, index_bits: int,
                  bias_bits: int | None = None, float_bits: int = 32) -> dict:
    """Storage of ``layers`` with their integer ``weights`` (by layer name), exact sizes; keys as
    :func:`expected_storage`."""
    if not layers:
        raise ValueError("no layers to size")
    missing = [layer.name for layer in layers if layer.name not in weights]
    if missing:
        raise ValueError(f"no weights for layer(s) {', '.join(missing)}")
    bias_bits = value_bits if bias_bits is None else bias_bits
    rows = [exact_layer(layer, weights[layer.name], value_bits, index_bits, bias_bits, float_bits)
            for layer in layers]
    return _total(rows, {"source": "exact", "value_bits": value_bits, "index_bits": index_bits,
                         "bias_bits": bias_bits, "float_bits": float_bits})



def stages(layers: list[WeightLayer], kept: dict[str, int], value_bits: int, index_bits: int,
           float_bits: int = 32) -> list[dict]:
    """The size after each compression stage (expected sizes), as the companion paper counts them.

    One dict per stage, ``stage`` (what), ``bits`` and ``factor`` (the dense float
    size over this one): dense float; pruned, float values alone (the pruning
    factor in parameters) and in CSR; pruned and quantized to ``value_bits``, values
    alone, in CSR with ``index_bits``-bit indices, as window bitmaps, and each layer
    in its smallest format. Biases stay dense, at the weights' width.
    """
    pruned_float = expected_storage(layers, kept, float_bits, index_bits, float_bits, float_bits)["total"]
    quantized = expected_storage(layers, kept, value_bits, index_bits, value_bits, float_bits)["total"]
    dense = pruned_float["float_bits"]
    rows = [("dense, float", dense),
            ("pruned, float, values only", pruned_float["kept_params"] * float_bits),
            (f"pruned, float, CSR ({index_bits}-bit index)", pruned_float["csr"]["total"]),
            ("pruned + quantized, values only", quantized["kept_params"] * value_bits),
            (f"pruned + quantized, CSR ({index_bits}-bit index)", quantized["csr"]["total"]),
            ("pruned + quantized, window bitmap", quantized["window"]["total"]),
            ("pruned + quantized, best format per layer", quantized["best_per_layer"])]
    return [{"stage": name, "bits": bits, "factor": dense / bits} for name, bits in rows]
