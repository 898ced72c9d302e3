"""The exported network in QONNX form (float tensors, ``Quant`` nodes), as FINN ingests it.

:func:`build_qonnx` writes the graph Brevitas would export for this network:

- input ``images``: float32 ``(B, C, H, W)`` holding the uint8 pixels (annotated UINT8);
  ``Add(-2**(input_bits-1))``, ``Mul(2**-input_frac)`` and a signed input ``Quant``;
- every conv1 / depthwise (``group = C``) / pointwise layer: ``Conv`` on a weight
  ``Quant`` (scale ``2**-weight_frac``), then the folded BN as ``Mul`` and ``Add`` per
  output channel and an unsigned activation ``Quant`` (``act_bits``, scale
  ``2**-act_frac``, ``rounding_mode="FLOOR"``), which is ReLU, clamp and requantize;
- the pool: ``ReduceSum`` over H x W; the fc: ``MatMul`` on a weight ``Quant``, ``Add``
  of the bias, and ``Mul(2**(weight_frac + act_frac))``, so ``logits`` holds the
  integer logits (as float32).

QONNX runs in float32 (qonnx's executor casts every ``Quant`` output to float32, and
FINN's flow works on float32 graphs), so the graph is exact only where float32 is:
every sum below 2**24 in its units, and BN constants whose float32 rounding cannot move
a ``floor`` across an integer. The BN constants are therefore the ones the golden model
proves exact (:func:`golden.requant.certify_float32`): ``Mul(s) ; Add(o) ; FLOOR`` then
reproduces ``(acc*m + b + r) >> s`` for every accumulator the layer can produce. What
cannot be proved exact is listed in :attr:`QonnxModel.inexact`, layer by layer; docs/onnx.md
gives the measured differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper

from golden.requant import certify_float32
from rrm.artifact import Artifact
from rrm.errors import UserError

from .onnx_graph import INPUT, IR_VERSION, OPSET, OUTPUT, GraphBuilder

#: Domain of QONNX's custom operators (``Quant``), as qonnx registers them.
QONNX_DOMAIN = "qonnx.custom_op.general"
#: float32 holds every integer of magnitude below this.
FLOAT32_EXACT = 2 ** 24


@dataclass
class QonnxModel:
    """A QONNX graph and what in it is not provably exact.

    Members
    -------
    model : onnx.ModelProto
        The graph, shapes inferred (fixed batch), tensors' QONNX datatypes annotated.
    inexact : list of str
        One line per part whose float32 arithmetic may differ from docs/design.md §6 (empty:
        the graph is exact for every image).
    """

    model: "onnx.ModelProto"
    inexact: list = field(default_factory=list)


def _f32(value) -> np.ndarray:
    return np.asarray(value, np.float32)


def _quant(g: GraphBuilder, x: str, scale: float, bits: int, signed: bool, rounding: str, stem: str) -> str:
    out = g.fresh(stem)
    g.nodes.append(helper.make_node(
        "Quant", [x, g.const("scale", _f32(scale)), g.const("zeropt", _f32(0.0)),
                  g.const("bitwidth", _f32(bits))],
        [out], name=out, domain=QONNX_DOMAIN, signed=int(signed), narrow=0, rounding_mode=rounding))
    return out


def _bn_constants(params: dict, act_max: int, acc_bound: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """float32 (scale, offset) for ``floor(acc*scale + offset)``; True when proved exact."""
    mult, bias, shift = params["bn_mult"], params["bn_bias"], params["shift"]
    certified = certify_float32(mult, bias, shift, act_max, acc_bound)
    if certified is not None:
        return certified[0], certified[1], True
    rnd = 1 << (shift - 1) if shift > 0 else 0
    factor = 2.0 ** -shift
    return (_f32(mult.astype(np.float64) * factor), _f32((bias + rnd).astype(np.float64) * factor), False)


def build_qonnx(artifact: Artifact, batch: int = 1) -> QonnxModel:
    """The artifact's network in QONNX for a fixed ``batch`` (FINN wants 1)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.datatype import DataType
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise UserError(f"batch must be a positive integer, got {batch!r}")
    spec = artifact.spec
    quant, net = spec.quant, spec.network
    g = GraphBuilder()
    inexact: list[str] = []
    zero = 1 << (quant.input_bits - 1)
    x = g.op("Add", [INPUT, g.const("minus_input_offset", _f32(-zero))], "centred")
    x = g.op("Mul", [x, g.const("input_scale", _f32(2.0 ** -quant.input_frac))], "input_real")
    x = _quant(g, x, 2.0 ** -quant.input_frac, quant.input_bits, True, "ROUND", "input_q")
    x_frac, x_max = quant.input_frac, max(zero, min(255, (1 << quant.input_bits) - 1) - zero)
    w_scale = 2.0 ** -quant.weight_frac
    for layer in spec.layers():
        name = layer.name
        if layer.kind in ("conv", "dw", "pw"):
            params = artifact.layer(name)
            weight = params["weight"].astype(np.int64)
            if layer.kind == "dw":
                weight = weight[:, None]
            elif layer.kind == "pw":
                weight = weight[:, :, None, None]
            # the largest |partial sum| any input can give, from the actual weights
            acc_bound = x_max * int(np.abs(weight).reshape(len(weight), -1).sum(axis=1).max(initial=0))
            wq = _quant(g, g.const(f"{name}_weight", _f32(weight * w_scale)), w_scale, quant.weight_bits,
                        True, "ROUND", f"{name}_weight_q")
            pad = layer.kernel // 2 if layer.kind != "pw" else 0
            conv = g.op("Conv", [x, wq], f"{name}_conv", kernel_shape=list(weight.shape[2:]),
                        strides=[layer.stride] * 2, pads=[pad] * 4,
                        group=layer.in_channels if layer.kind == "dw" else 1)
            if acc_bound >= FLOAT32_EXACT:
                inexact.append(f"{name}: sums up to {acc_bound} (>= 2**24) are rounded in float32 Conv")
            scale, offset, exact = _bn_constants(params, quant.act_max, acc_bound)
            if not exact and acc_bound < FLOAT32_EXACT:
                inexact.append(f"{name}: no float32 BN constants reproduce (acc*m + b + r) >> {params['shift']} "
                               f"for every |acc| <= {acc_bound}")
            # conv = acc * 2**-(wf + xf); Quant divides by 2**-af: powers of two, exact
            shape = (1, len(scale), 1, 1)
            v = g.op("Mul", [conv, g.const(f"{name}_bn_scale", (scale.astype(np.float64)
                     * 2.0 ** (quant.weight_frac + x_frac - quant.act_frac)).astype(np.float32).reshape(shape))],
                     f"{name}_bn")
            v = g.op("Add", [v, g.const(f"{name}_bn_offset", (offset.astype(np.float64)
                     * 2.0 ** -quant.act_frac).astype(np.float32).reshape(shape))], f"{name}_bn")
            x = _quant(g, v, 2.0 ** -quant.act_frac, quant.act_bits, False, "FLOOR", f"{name}_act")
            x_frac, x_max = quant.act_frac, quant.act_max
        elif layer.kind == "pool":
            x = g.op("ReduceSum", [x, g.const("hw_axes", np.array([2, 3], np.int64))], "pool", keepdims=0)
            x_max = layer.in_h * layer.in_w * x_max
            if x_max >= FLOAT32_EXACT:
                inexact.append(f"pool: sums up to {x_max} (>= 2**24) are rounded in float32")
        elif layer.kind == "fc":
            params = artifact.layer(name)
            weight, bias = params["weight"].astype(np.int64), params["bias"].astype(np.int64)
            reach = x_max * int(np.abs(weight).sum(axis=1).max(initial=0)) + int(np.abs(bias).max(initial=0))
            if reach >= FLOAT32_EXACT:
                inexact.append(f"fc: logits and partial sums up to {reach} (>= 2**24) are rounded in float32")
            wq = _quant(g, g.const(f"{name}_weight", _f32(weight.T * w_scale)), w_scale, quant.weight_bits,
                        True, "ROUND", f"{name}_weight_q")
            y = g.op("MatMul", [x, wq], "fc_matmul")
            unit = 2.0 ** -(quant.weight_frac + x_frac)
            y = g.op("Add", [y, g.const("fc_bias", _f32(bias[None, :] * unit))], "fc")
            x = g.op("Mul", [y, g.const("to_integer_logits", _f32(1.0 / unit))], "fc_int")
        else:
            raise UserError(f"layer {name}: kind {layer.kind!r} has no QONNX form")
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT], name=OUTPUT))
    graph = helper.make_graph(
        g.nodes, f"{net.name}_qonnx",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT,
                                       [batch, net.input_channels, net.input_size, net.input_size])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [batch, net.num_classes])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid(QONNX_DOMAIN, 1)],
                              ir_version=IR_VERSION, producer_name="rr-mobilenet",
                              doc_string=f"{net.name}: QONNX (Quant nodes); float32 NCHW pixels in, "
                                         f"integer logits (float32) out (docs/onnx.md)")
    wrapper = ModelWrapper(model)
    wrapper = wrapper.transform(InferShapes())
    wrapper = wrapper.transform(InferDataTypes())
    if quant.input_bits <= 8:
        wrapper.set_tensor_datatype(INPUT, DataType["UINT8"])
    return QonnxModel(wrapper.model, inexact)
