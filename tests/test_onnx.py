"""``rrm onnx``: onnxruntime runs the exported integer network exactly as the golden model
does, and qonnx's own executor runs the QONNX form exactly where it claims to.

Integer ONNX (onnxruntime): the embedded digits test split, random-weight artifacts of
three specs (tiny; ``WIDE``: odd sizes, kernel 5, 16-bit weights, 8-bit activations;
``NARROW_IN``: 10-bit input and activations, 12-bit weights, 9x9 input) on random and
extreme images (all 0, all 255, 0/255 noise), and an artifact with weights at both ends
of their range. QONNX (qonnx's executor): tiny exact; WIDE's float32 layers listed and
their difference measured (docs/onnx.md quotes it).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from golden import model
from golden.random_weights import random_artifact, random_params
from rrm.artifact import Artifact, save_artifact, validate_params
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec
from scripts.cli import main
from scripts.onnx_graph import build_model, weight_bytes
from scripts.qonnx_graph import build_qonnx
from tests.specs import TINY, WIDE

#: Wider than 8 bits everywhere: input offset 512 (no uint8 zero point), activations
#: 0..1023 (two bytes), weights 12 bit (two bytes), odd 9x9 map.
NARROW_IN = Spec(network=NetworkSpec(name="narrow-in", input_size=9, input_channels=2, num_classes=3,
                                     width_multiplier=0.125, blocks=((16, 2), (24, 1))),
                 quant=QuantSpec(weight_bits=12, weight_frac=10, act_bits=10, act_frac=4,
                                 input_bits=10, input_frac=9),
                 hardware=HardwareSpec(kernel=3, pe_count=1, lanes=4))


def session(artifact: Artifact) -> ort.InferenceSession:
    return ort.InferenceSession(build_model(artifact).SerializeToString(),
                                providers=["CPUExecutionProvider"])


def images_for(spec: Spec, count: int, seed: int) -> np.ndarray:
    """Random pixels, then all 0, all 255 and 0/255 noise (extremes of the input)."""
    net = spec.network
    shape = (net.input_size, net.input_size, net.input_channels)
    top = min(255, 2 ** spec.quant.input_bits - 1)
    rng = np.random.default_rng(seed)
    return np.concatenate([
        rng.integers(0, top + 1, (count, *shape), dtype=np.uint8),
        np.zeros((1, *shape), np.uint8),
        np.full((1, *shape), top, np.uint8),
        rng.choice(np.array([0, top], np.uint8), (2, *shape)),
    ])


def assert_exact(artifact: Artifact, images: np.ndarray) -> np.ndarray:
    logits = session(artifact).run(None, {"images": images})[0]
    expected = model.run(artifact, images)
    assert logits.dtype == np.int64 and logits.shape == expected.shape
    differing = np.flatnonzero(np.any(logits != expected, axis=1))
    assert not len(differing), f"{len(differing)} of {len(images)} images differ, first {differing[0]}"
    return logits


def test_weight_bytes_recompose():
    weight = np.array([-32768, -129, -128, -1, 0, 1, 127, 128, 255, 256, 32767])
    parts = weight_bytes(weight)
    assert [part.dtype for part in parts] == [np.uint8, np.int8]
    assert np.array_equal(sum(part.astype(np.int64) * 256 ** j for j, part in enumerate(parts)), weight)
    assert [part.dtype for part in weight_bytes(np.array([-128, 127]))] == [np.int8]


def test_tiny_test_split_equals_golden():
    from sw.data import digits

    _, test = digits(TINY)
    images, _ = test.arrays()
    assert images.dtype == np.uint8 and len(images) > 300
    images = np.concatenate([images, images_for(TINY, 0, 0)])  # + all 0, all 255, 0/255 noise
    logits = assert_exact(random_artifact(TINY, 3), images)
    assert len(np.unique(model.predict(logits))) > 1  # a network that says something


@pytest.mark.parametrize("spec, seed", [(TINY, 0), (WIDE, 5), (NARROW_IN, 2)], ids=["tiny", "wide", "narrow-in"])
def test_random_artifacts_on_random_and_extreme_images(spec, seed):
    images = images_for(spec, 24, seed)
    logits = assert_exact(random_artifact(spec, seed), images)
    assert np.ptp(logits) > 0


@pytest.mark.parametrize("spec", [TINY, WIDE], ids=["tiny", "wide"])
def test_weights_at_both_ends_of_their_range(spec):
    params, _ = random_params(spec, 7)
    lo, hi = spec.quant.weight_int_range
    rng = np.random.default_rng(7)
    for key, value in params.items():
        if key.endswith(".weight"):
            params[key] = np.where(rng.random(value.shape) < 0.5, lo, hi)
    artifact = Artifact(spec=spec, params=validate_params(spec, params))
    assert_exact(artifact, images_for(spec, 6, 7))


def test_qonnx_tiny_is_exact_in_qonnx_executor():
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    artifact = random_artifact(TINY, 3)
    images = images_for(TINY, 60, 4)
    result = build_qonnx(artifact, batch=len(images))
    assert result.inexact == []
    quant_nodes = [node for node in result.model.graph.node if node.op_type == "Quant"]
    assert len(quant_nodes) == 2 * (len(TINY.layers()) - 2) + 2  # weights + acts, input, fc weight
    pixels = images.transpose(0, 3, 1, 2).astype(np.float32)
    expected = model.run(artifact, images)
    out = execute_onnx(ModelWrapper(result.model), {"images": pixels})["logits"]
    assert np.array_equal(out.astype(np.int64), expected)
    assert np.array_equal(out, np.rint(out))
    # FINN's first step on an ingested model: qonnx's cleanup (renames tensors, folds, sorts)
    cleaned = cleanup_model(ModelWrapper(result.model))
    out = execute_onnx(cleaned, {cleaned.graph.input[0].name: pixels})[cleaned.graph.output[0].name]
    assert np.array_equal(out.astype(np.int64), expected)


def measure_qonnx(artifact: Artifact, images: np.ndarray) -> dict:
    """How far qonnx's float32 execution is from golden: images with any logit off, the
    largest |logit difference| and |logit|, changed classes, and the activations (every
    conv/dw/pw output) that differ, with the largest difference in activation steps."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    spec = artifact.spec
    wrapper = ModelWrapper(build_qonnx(artifact, batch=len(images)).model)
    context = execute_onnx(wrapper, {"images": images.transpose(0, 3, 1, 2).astype(np.float32)},
                           return_full_exec_context=True)
    out = context["logits"]
    expected, trace = model.run(artifact, images, trace=True)
    diff = np.abs(out.astype(np.float64) - expected)
    activations = differing_acts = worst_act = 0
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            key = next(name for name in context if name.startswith(f"{layer.name}_act_"))
            got = (context[key] * 2.0 ** spec.quant.act_frac).transpose(0, 2, 3, 1)
            act_diff = np.abs(got - trace[layer.name])
            activations += act_diff.size
            differing_acts += int((act_diff > 0).sum())
            worst_act = max(worst_act, float(act_diff.max()))
    return {"images": len(images), "differing": int(np.any(diff > 0, axis=1).sum()),
            "max_diff": float(diff.max()), "max_logit": float(np.abs(expected).max()),
            "class_changes": int((model.predict(out) != model.predict(expected)).sum()),
            "activations": activations, "differing_activations": differing_acts,
            "max_activation_diff": worst_act}


def test_qonnx_wide_names_its_float32_layers_and_stays_close():
    artifact = random_artifact(WIDE, 5)
    inexact = build_qonnx(artifact).inexact
    assert any(line.startswith("conv1:") and "2**24" in line for line in inexact)
    assert any("no float32 BN constants" in line for line in inexact)
    rng = np.random.default_rng(105)
    net = WIDE.network
    shape = (400, net.input_size, net.input_size, net.input_channels)
    images = np.concatenate([rng.integers(0, 256, shape, dtype=np.uint8),
                             rng.choice(np.array([0, 255], np.uint8), shape)])
    found = measure_qonnx(artifact, images)
    print(f"QONNX on WIDE: {found}")
    # docs/onnx.md: about one image in a thousand, a few activation steps, no class changes
    assert found["differing"] <= 0.01 * found["images"], found
    assert found["class_changes"] <= 0.005 * found["images"], found
    assert found["max_activation_diff"] <= 16, found
    assert found["differing_activations"] <= 1e-3 * found["activations"], found


def run_cli(args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "art"
    params, _ = random_params(TINY, 1)
    save_artifact(path, TINY, params)
    return path


def test_cli_writes_a_checked_model_that_equals_golden(artifact_dir, tmp_path):
    out = tmp_path / "tiny.onnx"
    code, text, err = run_cli(["onnx", artifact_dir, "--out", out])
    assert code == 0, err
    assert "ConvInteger" in text and "MatMulInteger" in text
    loaded = onnx.load(out)
    onnx.checker.check_model(loaded, full_check=True)
    images = images_for(TINY, 8, 1)
    logits = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"images": images})[0]
    assert np.array_equal(logits, model.run(artifact_dir, images))
    assert [path.name for path in tmp_path.iterdir()] == ["tiny.onnx"]  # no temporary left


def test_cli_qonnx(artifact_dir, tmp_path):
    out = tmp_path / "tiny-qonnx.onnx"
    code, text, err = run_cli(["onnx", artifact_dir, "--out", out, "--qonnx"])
    assert code == 0, err
    assert "provably exact" in text
    loaded = onnx.load(out)
    assert sum(node.op_type == "Quant" for node in loaded.graph.node) > 10
    assert [dim.dim_value for dim in loaded.graph.input[0].type.tensor_type.shape.dim] == [1, 1, 32, 32]


@pytest.mark.parametrize("case", ["existing directory", "missing directory", "under a file",
                                  "bad artifact", "batch without qonnx"])
def test_cli_refuses_bad_input_before_writing(case, artifact_dir, tmp_path):
    out = tmp_path / "model.onnx"
    artifact = artifact_dir
    extra = []
    if case == "existing directory":
        out.mkdir()
    elif case == "missing directory":
        out = tmp_path / "missing" / "model.onnx"
    elif case == "under a file":
        (tmp_path / "a-file").write_text("x")
        out = tmp_path / "a-file" / "model.onnx"
    elif case == "bad artifact":
        artifact = tmp_path / "art"
        artifact.mkdir()
        (artifact / "manifest.json").write_text("{}")
    else:
        extra = ["--batch", "2"]
    before = sorted(tmp_path.rglob("*"))
    code, _, err = run_cli(["onnx", artifact, "--out", out, *extra])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrm onnx: error:") and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_full_size_rr_mobilenet():
    from rrm.presets import load_preset

    spec = load_preset("rr-mobilenet")
    assert_exact(random_artifact(spec, 0), images_for(spec, 2, 0))
