"""The exported integer network as a standard ONNX graph that onnxruntime runs exactly.

:func:`build_model` turns a validated :class:`~rrm.artifact.Artifact` into an
``onnx.ModelProto`` (opset :data:`OPSET`) made of standard integer operators only:

- input ``images``: the uint8 pixels as the accelerator receives them, channels-last
  ``(N, H, W, C)``; output ``logits``: int64 ``(N, classes)``;
- conv1, depthwise (``group = C``) and pointwise layers: ``ConvInteger``; the fc:
  ``MatMulInteger``; both take 8-bit operands and sum in int32, so wider weights or
  activations are split into bytes (``w = sum_j w_j * 256**j``, lower bytes uint8, the
  top one int8) and the byte products are shifted and added in int64;
- the input shift ``x = p - 2**(input_bits-1)``: ConvInteger's ``x_zero_point``, with the
  border padded explicitly by the zero point (``Pad``), so the padding is the real value 0
  (above 8 input bits: the pixels padded with the offset in int64, and ``-offset * sum(w)``
  added per output channel);
- BN + ReLU + requantize: int64 ``Mul``/``Add``, then negative values set to 0
  (``Less``/``Where``), ``Div`` by ``2**s`` and values above ``act_max`` set to it
  (``Greater``/``Where``);
- the pool: ``ReduceSum`` over H x W in int64.

Why each integer operator computes docs/design.md §6 exactly, where its own semantics differ
(Div truncates towards zero, int32 sums, padding values), is in docs/onnx.md. Every
sum is bounded at build time: a byte product that could leave int32, or a BN sum that
could leave int64, raises :class:`~rrm.errors.UserError` instead of writing a wrong graph.

This module imports ``onnx`` at load time; ``rrm onnx`` imports this module only when it
runs, so ``rrm --help`` does not load onnx.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rrm import bounds
from rrm.artifact import Artifact
from rrm.errors import UserError

#: The ONNX operator set and IR version written (onnxruntime >= 1.18 runs both).
OPSET = 21
IR_VERSION = 10
#: Names of the graph's input and output.
INPUT, OUTPUT = "images", "logits"
#: ConvInteger/MatMulInteger sum in int32.
INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1


@dataclass(frozen=True)
class Act:
    """An integer feature map in the graph: the tensor ``name`` holds ``x - offset``.

    ``dtype`` is uint8 or int64; the stored values lie in ``0..span``.
    """

    name: str
    dtype: np.dtype
    offset: int
    span: int


class GraphBuilder:
    """Collects nodes and initializers under unique names (one graph)."""

    def __init__(self):
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        """A tensor name not used before, readable in Netron: ``<stem>_<n>``."""
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, array) -> str:
        """An initializer holding ``array`` (its dtype kept); returns its name."""
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str, **attrs) -> str:
        """One node with a single output; returns the output's name."""
        out = self.fresh(stem)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def weight_bytes(weight: np.ndarray) -> list[np.ndarray]:
    """Split integer weights into bytes, lowest first: lower bytes uint8, the top byte
    int8, with ``weight == sum_j bytes[j] * 256**j`` (a single int8 byte when it fits)."""
    weight = np.asarray(weight, np.int64)
    parts = []
    rest = weight
    while rest.size and (rest.min() < -128 or rest.max() > 127):
        parts.append((rest & 0xFF).astype(np.uint8))
        rest = rest >> 8  # arithmetic: the remaining bytes carry the sign
    parts.append(rest.astype(np.int8))
    return parts


def _as_int64(g: GraphBuilder, act: Act) -> Act:
    if act.dtype == np.int64:
        return act
    return Act(g.op("Cast", [act.name], "as_int64", to=TensorProto.INT64), np.dtype(np.int64),
               act.offset, act.span)


def _pad(g: GraphBuilder, act: Act, pad: int, spatial: int) -> Act:
    """Zero-pad (the real value 0, i.e. stored ``-offset``) ``pad`` on each side of the last
    ``spatial`` axes (NCHW)."""
    fill = -act.offset
    if act.dtype == np.uint8 and not 0 <= fill <= 255:
        act = _as_int64(g, act)
    pads = [0, 0] + [pad] * spatial
    pads = pads + pads
    name = g.op("Pad", [act.name, g.const("pads", np.array(pads, np.int64)),
                        g.const("pad_value", np.array(fill, act.dtype))], "padded", mode="constant")
    return Act(name, act.dtype, act.offset, max(act.span, fill))


def _activation_bytes(g: GraphBuilder, act: Act) -> list[str]:
    """uint8 tensors b_i with stored value = sum_i b_i * 256**i (the value is >= 0)."""
    if act.span <= 255:
        if act.dtype == np.uint8:
            return [act.name]
        return [g.op("Cast", [act.name], "byte", to=TensorProto.UINT8)]
    act = _as_int64(g, act)
    count = (act.span.bit_length() + 7) // 8
    out = []
    for index in range(count):
        part = act.name
        if index:
            part = g.op("Div", [part, g.const("byte_unit", np.array(256 ** index, np.int64))], "shifted")
        if index + 1 < count:
            part = g.op("Mod", [part, g.const("byte_mod", np.array(256, np.int64))], "low")
        out.append(g.op("Cast", [part], "byte", to=TensorProto.UINT8))
    return out


def integer_product(g: GraphBuilder, act: Act, weight: np.ndarray, what: str, op_type: str,
                    weight_for_op, channel_shape: tuple, terms: int, **attrs) -> str:
    """The exact int64 sum ``sum x * w`` of one layer (ConvInteger or MatMulInteger).

    ``weight`` is the layer's integer weight (output channel first), ``weight_for_op``
    maps one weight byte to the layer's operand layout, ``channel_shape`` is the shape a
    per-output-channel constant broadcasts from, ``terms`` the products per output.
    """
    w_parts = weight_bytes(weight)
    use_zero_point = act.span <= 255 and 0 < -act.offset <= 255 and act.dtype == np.uint8
    x_parts = _activation_bytes(g, act)
    largest_w = max(int(np.abs(part.astype(np.int64)).max(initial=0)) for part in w_parts)
    largest_x = 255 if not use_zero_point else max(-act.offset, act.span + act.offset)
    if terms * largest_w * largest_x > INT32_MAX:
        raise UserError(f"layer {what}: {terms} products of {largest_x} x {largest_w} per output "
                        f"may leave int32, the sum of {op_type}")
    total = None
    for i, x_part in enumerate(x_parts):
        for j, w_part in enumerate(w_parts):
            inputs = [x_part, g.const(f"{what}_w{j}", weight_for_op(w_part))]
            if use_zero_point:
                inputs.append(g.const("x_zero_point", np.array(-act.offset, np.uint8)))
            part = g.op(op_type, inputs, f"{what}_i32", **attrs)
            part = g.op("Cast", [part], f"{what}_i64", to=TensorProto.INT64)
            if i + j:
                part = g.op("Mul", [part, g.const("byte_weight", np.array(256 ** (i + j), np.int64))],
                            f"{what}_scaled")
            total = part if total is None else g.op("Add", [total, part], f"{what}_sum")
    if act.offset and not use_zero_point:
        # sum (v + offset) * w = sum v * w + offset * sum w, per output channel
        axes = tuple(range(1, weight.ndim))
        correction = act.offset * np.asarray(weight, np.int64).sum(axis=axes)
        total = g.op("Add", [total, g.const(f"{what}_offset", correction.reshape(channel_shape))],
                     f"{what}_acc")
    return total


def requantize(g: GraphBuilder, acc: str, params: dict, act_max: int, acc_bound: int, what: str) -> Act:
    """``clamp((acc*m + b + r) >> s, 0, act_max)`` in int64, per output channel (NCHW)."""
    mult, bias, shift = params["bn_mult"], params["bn_bias"], params["shift"]
    rnd = 1 << (shift - 1) if shift > 0 else 0
    reach = acc_bound * int(np.abs(mult).max(initial=0)) + int(np.abs(bias).max(initial=0)) + rnd
    if reach > INT64_MAX:
        raise UserError(f"layer {what}: acc*bn_mult + bn_bias + r can reach {reach}, beyond int64")
    shape = (1, len(mult), 1, 1)
    value = g.op("Mul", [acc, g.const(f"{what}_bn_mult", mult.astype(np.int64).reshape(shape))], f"{what}_bn")
    value = g.op("Add", [value, g.const(f"{what}_bn_bias_r", (bias.astype(np.int64) + rnd).reshape(shape))],
                 f"{what}_bn")
    # Less/Greater + Where, not Max/Min/Clip: onnxruntime 1.31's int64 Max/Min against a
    # broadcast scalar get values with bit 31 set wrong (docs/onnx.md)
    zero, top = g.const("zero", np.array(0, np.int64)), g.const("act_max", np.array(act_max, np.int64))
    value = g.op("Where", [g.op("Less", [value, zero], f"{what}_negative"), zero, value], f"{what}_relu")
    if shift:
        value = g.op("Div", [value, g.const(f"{what}_2_pow_shift", np.array(1 << shift, np.int64))],
                     f"{what}_shift")
    value = g.op("Where", [g.op("Greater", [value, top], f"{what}_saturated"), top, value], f"{what}_act")
    if act_max <= 255:
        value = g.op("Cast", [value], f"{what}_u8", to=TensorProto.UINT8)
        return Act(value, np.dtype(np.uint8), 0, act_max)
    return Act(value, np.dtype(np.int64), 0, act_max)


def build_model(artifact: Artifact) -> "onnx.ModelProto":
    """The artifact's network as a checked ONNX model: uint8 images in, int64 logits out."""
    spec = artifact.spec
    quant, net = spec.quant, spec.network
    acc_bounds = bounds.accumulator_bounds(spec)
    g = GraphBuilder()
    size, channels = net.input_size, net.input_channels
    zero = 1 << (quant.input_bits - 1)
    nchw = g.op("Transpose", [INPUT], "nchw", perm=[0, 3, 1, 2])
    span = min(255, (1 << quant.input_bits) - 1)
    act = Act(nchw, np.dtype(np.uint8), -zero, span)
    logits = None
    for layer in spec.layers():
        name = layer.name
        if layer.kind in ("conv", "dw", "pw"):
            params = artifact.layer(name)
            weight = params["weight"]
            if layer.kind == "dw":  # (C, K, K) -> grouped conv weight (C, 1, K, K)
                weight = weight[:, None]
            elif layer.kind == "pw":  # (M, C) -> (M, C, 1, 1)
                weight = weight[:, :, None, None]
            pad = layer.kernel // 2 if layer.kind != "pw" else 0
            source = act
            attrs = {"strides": [layer.stride, layer.stride],
                     "group": layer.in_channels if layer.kind == "dw" else 1}
            if pad and act.offset:
                source = _pad(g, act, pad, 2)
            elif pad:
                attrs["pads"] = [pad] * 4  # ConvInteger pads stored 0, the real 0 here
            terms = int(np.prod(weight.shape[1:]))
            acc = integer_product(g, source, weight, name, "ConvInteger", lambda w: w,
                                  (1, weight.shape[0], 1, 1), terms, **attrs)
            act = requantize(g, acc, params, quant.act_max, acc_bounds[name], name)
        elif layer.kind == "pool":
            wide = _as_int64(g, act)
            pooled = g.op("ReduceSum", [wide.name, g.const("hw_axes", np.array([2, 3], np.int64))],
                          "pool", keepdims=0)
            act = Act(pooled, np.dtype(np.int64), 0, layer.in_h * layer.in_w * act.span)
        elif layer.kind == "fc":
            params = artifact.layer(name)
            weight = params["weight"]  # (classes, C); MatMulInteger wants (C, classes)
            acc = integer_product(g, act, weight, name, "MatMulInteger", lambda w: np.ascontiguousarray(w.T),
                                  (1, weight.shape[0]), weight.shape[1])
            logits = g.op("Add", [acc, g.const("fc_bias", params["bias"].astype(np.int64)[None, :])], "fc")
        else:
            raise UserError(f"layer {name}: kind {layer.kind!r} has no ONNX form")
    if logits is None:
        raise UserError("the network has no fc layer: nothing to output")
    g.nodes.append(helper.make_node("Identity", [logits], [OUTPUT], name=OUTPUT))
    graph = helper.make_graph(
        g.nodes, f"{net.name}_integer",
        [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, ["N", size, size, channels])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.INT64, ["N", net.num_classes])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION, producer_name="rr-mobilenet",
                              doc_string=f"{net.name}: docs/design.md §6 integer network; uint8 NHWC images "
                                         f"in, int64 logits out (docs/onnx.md)")
    onnx.checker.check_model(model, full_check=True)
    return model
