"""The export artifact: round trip, validation of every way it can be wrong, the CLI, random BN."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.ops import bn_requant, layer_accumulator
from golden.random_weights import random_artifact
from rrm.artifact import (ArtifactError, FORMAT, MANIFEST, VERSION, WEIGHTS, expected_arrays,
                          load_artifact, manifest_digest, save_artifact)
from rrm.presets import load_preset
from scripts.cli import main


@pytest.fixture(scope="module")
def tiny():
    return load_preset("tiny")


@pytest.fixture(scope="module")
def tiny_random(tiny):
    return random_artifact(tiny, seed=3)


@pytest.fixture
def saved(tmp_path, tiny, tiny_random):
    return save_artifact(tmp_path / "art", tiny, tiny_random.params, metrics={"acc": 0.5},
                         provenance={"source": "test"})


def rewrite_weights(path: Path, change) -> None:
    """Apply ``change(dict of arrays)`` to weights.npz and re-sign it (valid checksum, bad content)."""
    with np.load(path / WEIGHTS, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    with open(path / WEIGHTS, "wb") as handle:
        np.savez(handle, **arrays)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][WEIGHTS] = hashlib.sha256((path / WEIGHTS).read_bytes()).hexdigest()
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))


def edit_manifest(path: Path, change, resign: bool = True) -> None:
    """Apply ``change(manifest)``; ``resign`` recomputes the manifest's own checksum, so that
    the deeper checks are reached (a forger who knows the format)."""
    manifest = json.loads((path / MANIFEST).read_text())
    change(manifest)
    if resign:
        manifest["manifest_sha256"] = manifest_digest(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))


def test_round_trip_keeps_every_array_and_the_manifest(saved, tiny, tiny_random):
    loaded = load_artifact(saved)
    assert loaded.spec == tiny
    assert set(loaded.params) == set(expected_arrays(tiny))
    for key, value in tiny_random.params.items():
        assert loaded.params[key].dtype == np.int64
        np.testing.assert_array_equal(loaded.params[key], value, err_msg=key)
    assert loaded.manifest["format"] == FORMAT and loaded.manifest["version"] == VERSION
    assert loaded.metrics == {"acc": 0.5}
    assert loaded.manifest["provenance"] == {"source": "test"}
    layer = loaded.layer("dsc7.pw")
    assert layer["weight"].shape == (72, 64) and isinstance(layer["shift"], int)
    assert set(loaded.layer("fc")) == {"weight", "bias"}
    with pytest.raises(ArtifactError, match="pool"):
        loaded.layer("pool")


def test_npz_stores_the_smallest_integer_dtypes(saved):
    with np.load(saved / WEIGHTS, allow_pickle=False) as data:
        assert data["conv1.weight"].dtype == np.int8
        assert data["conv1.bn_mult"].dtype == np.int16
        assert data["conv1.bn_bias"].dtype == np.int32
        assert data["fc.bias"].dtype == np.int32
        assert data["conv1.shift"].shape == ()


def test_save_replaces_an_old_artifact_and_leaves_no_temporary_files(saved, tiny):
    other = random_artifact(tiny, seed=4)
    save_artifact(saved, tiny, other.params)
    np.testing.assert_array_equal(load_artifact(saved).params["fc.weight"], other.params["fc.weight"])
    assert sorted(p.name for p in saved.parent.iterdir()) == ["art"]


def test_save_refuses_invalid_params_and_writes_nothing(tmp_path, tiny, tiny_random):
    params = dict(tiny_random.params)
    params["dsc2.dw.weight"] = params["dsc2.dw.weight"].copy()
    params["dsc2.dw.weight"][0, 0, 0] = 65
    with pytest.raises(ArtifactError, match=r"dsc2\.dw\.weight.*65.*-64\.\.64"):
        save_artifact(tmp_path / "bad", tiny, params)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_to_overwrite_a_file(tmp_path, tiny, tiny_random):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    with pytest.raises(ArtifactError, match="not an artifact directory"):
        save_artifact(target, tiny, tiny_random.params)
    assert target.read_text() == "keep me"


def test_flipped_byte_is_a_checksum_error(saved):
    data = bytearray((saved / WEIGHTS).read_bytes())
    data[len(data) // 2] ^= 0x01
    (saved / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        load_artifact(saved)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(version=3), "version 3 is not supported"),
    (lambda m: m.update(version=1), "version 1 is not supported.*export it again"),
    (lambda m: m.update(format="something-else"), "format is 'something-else'"),
    (lambda m: m["spec"]["network"].update(num_classes=0), "num_classes"),
    (lambda m: m.update(files={}), "'files' must list exactly"),
])
def test_bad_manifest_is_refused(saved, change, message):
    edit_manifest(saved, change)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved)


@pytest.mark.parametrize("change", [
    lambda m: m["spec"]["quant"].update(act_bits=m["spec"]["quant"]["act_bits"] + 1),
    lambda m: m["spec"]["quant"].update(input_bits=7),
    lambda m: m["spec"]["network"]["blocks"][0].__setitem__(1, 2),
    lambda m: m["numerics"].update(act_bits=99),
    lambda m: m["metrics"].update(acc=0.99),
], ids=["act_bits", "input_bits", "stride", "numerics", "metrics"])
def test_any_edit_of_the_manifest_is_refused(saved, change):
    edit_manifest(saved, change, resign=False)
    with pytest.raises(ArtifactError, match="manifest checksum mismatch"):
        load_artifact(saved)


def test_numerics_that_contradict_the_spec_are_refused_even_when_re_signed(saved):
    edit_manifest(saved, lambda m: m["numerics"].update(act_bits=99))
    with pytest.raises(ArtifactError, match="numerics block does not agree with the spec"):
        load_artifact(saved)


def test_manifest_that_is_not_json_is_refused(saved):
    (saved / MANIFEST).write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(saved)


def test_missing_directory_or_manifest_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "nothing")
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        load_artifact(tmp_path)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("dsc5.pw.bn_bias"), r"missing array 'dsc5\.pw\.bn_bias'"),
    (lambda a: a.update({"extra": np.zeros(3, np.int8)}), "unexpected array 'extra'"),
    (lambda a: a.update({"dsc3.pw.weight": np.zeros((32, 15), np.int8)}), r"shape \(32, 15\).*\(32, 16\)"),
    (lambda a: a.update({"fc.bias": np.zeros(10, np.float32)}), "dtype float32"),
    (lambda a: a.update({"conv1.shift": np.array(63, np.int8)}), "63, out of range"),
    (lambda a: a.update({"conv1.bn_mult": np.full(8, 40000, np.int32)}), "40000, out of range"),
    (lambda a: a.update({"fc.weight": np.full((10, 192), -65, np.int8)}), "-65, out of range"),
])
def test_bad_arrays_are_refused_with_the_key_named(saved, change, message):
    rewrite_weights(saved, change)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved)


def test_weights_file_that_is_not_npz_is_refused(saved):
    (saved / WEIGHTS).write_bytes(b"not a zip file")
    edit_manifest(saved, lambda m: m["files"].update({WEIGHTS: hashlib.sha256(b"not a zip file").hexdigest()}))
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_artifact(saved)


def test_random_artifact_is_deterministic_per_seed(tiny):
    a, b, c = random_artifact(tiny, 7), random_artifact(tiny, 7), random_artifact(tiny, 8)
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


def activation_histograms(artifact, images: np.ndarray) -> dict[str, np.ndarray]:
    """Per conv/dw/pw layer, the fraction of activations at each value 0..act_max."""
    spec = artifact.spec
    act_max = spec.quant.act_max
    x = images.astype(np.int64) - (1 << (spec.quant.input_bits - 1))
    out = {}
    for layer in spec.layers():
        if layer.kind not in ("conv", "dw", "pw"):
            continue
        p = artifact.layer(layer.name)
        x = bn_requant(layer_accumulator(x, p["weight"], layer), p["bn_mult"], p["bn_bias"],
                       p["shift"], spec.quant.act_bits)
        out[layer.name] = np.bincount(x.ravel(), minlength=act_max + 1) / x.size
    return out


@pytest.mark.parametrize("preset, images", [("tiny", 16), ("rr-mobilenet", 1)])
def test_random_activations_spread_over_the_whole_range(preset, images):
    spec = load_preset(preset)
    artifact = random_artifact(spec, seed=11)
    n = spec.network
    pixels = np.random.default_rng(5).integers(0, 256, (images, n.input_size, n.input_size, n.input_channels),
                                               dtype=np.uint8)
    for name, hist in activation_histograms(artifact, pixels).items():
        assert hist[0] < 0.25, f"{name}: {hist[0]:.0%} zeros"
        assert hist[-1] < 0.25, f"{name}: {hist[-1]:.0%} saturated"
        assert np.count_nonzero(hist) == len(hist), f"{name}: only {np.count_nonzero(hist)} distinct values"
    mults = np.concatenate([artifact.params[k] for k in artifact.params if k.endswith(".bn_mult")])
    assert (mults < 0).any() and (mults > 0).any()
    assert np.abs(mults).max() >= 1 << (spec.quant.bn_mult_bits - 2), "multipliers do not use their precision"


def test_random_fc_predicts_more_than_one_class(tiny):
    artifact = random_artifact(tiny, seed=2)
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 32, 1), dtype=np.uint8)
    x = pixels.astype(np.int64) - 128
    for layer in tiny.layers():
        if layer.kind in ("conv", "dw", "pw"):
            p = artifact.layer(layer.name)
            x = bn_requant(layer_accumulator(x, p["weight"], layer), p["bn_mult"], p["bn_bias"], p["shift"],
                           tiny.quant.act_bits)
    fc = artifact.layer("fc")
    logits = x.sum(axis=(1, 2)) @ fc["weight"].T + fc["bias"]
    assert len(set(logits.argmax(axis=1))) >= 3


# --- command line --------------------------------------------------------------


def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_export_random_writes_a_valid_artifact(tmp_path, capsys, tiny):
    code, text = run_cli(["export", "--preset", "tiny", "--random", "--seed", "5", "--out", str(tmp_path / "a")],
                         capsys)
    assert code == 0, text
    loaded = load_artifact(tmp_path / "a")
    expected = random_artifact(tiny, 5)
    for key in expected.params:
        np.testing.assert_array_equal(loaded.params[key], expected.params[key])
    assert loaded.manifest["provenance"]["seed"] == 5
    code, text = run_cli(["export", "--check", str(tmp_path / "a")], capsys)
    assert code == 0 and "valid" in text


@pytest.mark.parametrize("damage, message", [
    ("flip", "checksum mismatch"),
    ("version", "version 9 is not supported"),
    ("shape", "shape"),
    ("range", "out of range"),
    ("missing", "missing array"),
])
def test_cli_check_exits_2_on_a_bad_artifact(saved, capsys, damage, message):
    if damage == "flip":
        data = bytearray((saved / WEIGHTS).read_bytes())
        data[100] ^= 0x80
        (saved / WEIGHTS).write_bytes(bytes(data))
    elif damage == "version":
        edit_manifest(saved, lambda m: m.update(version=9))
    elif damage == "shape":
        rewrite_weights(saved, lambda a: a.update({"fc.bias": np.zeros(11, np.int32)}))
    elif damage == "range":
        rewrite_weights(saved, lambda a: a.update({"dsc4.dw.weight": np.full((32, 3, 3), 100, np.int8)}))
    else:
        rewrite_weights(saved, lambda a: a.pop("dsc14.pw.shift"))
    code, text = run_cli(["export", "--check", str(saved)], capsys)
    assert code == 2
    assert message in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1


def test_cli_export_errors_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, text = run_cli(["export", "--preset", "tiny", "--random", "--out", str(tmp_path / "file")], capsys)
    assert code == 2 and "not an artifact directory" in text
    code, text = run_cli(["export", "--preset", "tiny", "--random", "--seed", "-1", "--out", str(tmp_path / "b")],
                         capsys)
    assert code == 2 and "--seed" in text
    code, text = run_cli(["export", "--preset", "nope", "--random", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "unknown preset" in text


def test_rrm_executable_exits_2_on_a_corrupt_artifact(saved):
    edit_manifest(saved, lambda m: m.update(version=0))
    proc = subprocess.run([sys.executable, "-m", "scripts.cli", "export", "--check", str(saved)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "version 0 is not supported" in proc.stderr
