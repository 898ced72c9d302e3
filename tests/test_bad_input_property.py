"""Every ``rrm`` subcommand driven with generated bad input (hypothesis): missing paths,
directories, files where directories belong, non-UTF-8, empty or text files, truncated or
bit-flipped artifacts, manifests edited by hand, images of the wrong shape or dtype.

For each case: exit code 2, a one-line message, no traceback, and nothing written under
the output name."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scripts.cli import main

#: Generated cases per subcommand and input (the issue's closing note quotes them).
EXAMPLES = 100
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

PATH_KINDS = ["missing", "directory", "under a file", "non-UTF-8", "empty", "text"]
ARTIFACT_KINDS = ["no manifest", "no weights", "truncated manifest", "truncated weights",
                  "flipped weights byte", "flipped manifest byte", "edited spec", "edited numerics",
                  "path kind"]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    assert main(["export", "--preset", "tiny", "--random", "--seed", "2", "--out", str(root / "art")]) == 0
    np.save(root / "images.npy", np.zeros((2, 32, 32, 1), np.uint8))
    return root


def expect_refusal(args: list, output: Path | None = None) -> str:
    """Run ``rrm args``; it must exit 2 with one line on stderr and write nothing at ``output``."""
    event(f"rrm {args[0]}")   # cases per subcommand, in --hypothesis-show-statistics
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(SystemExit) as exc:
            main([str(arg) for arg in args])
    text = err.getvalue()
    assert exc.value.code == 2, (args, text)
    assert "Traceback" not in text, (args, text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0], (args, text)
    if output is not None:
        assert not output.exists(), (args, "wrote", output)
    return lines[0]


def make_bad_path(root: Path, kind: str, name: str, data: bytes) -> Path:
    path = root / name
    if kind == "missing":
        return path
    if kind == "directory":
        path.mkdir()
        (path / "junk").write_bytes(data)
    elif kind == "under a file":
        blocker = root / "a-file"
        blocker.write_bytes(data)
        return blocker / name
    elif kind == "non-UTF-8":
        path.write_bytes(b"\xff\xfe" + data)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_text("this is text, " + data.hex() + "\n")
    return path


def make_bad_artifact(root: Path, good_artifact: Path, kind: str, position: float, data: bytes) -> Path:
    if kind == "path kind":
        return make_bad_path(root, ["missing", "directory", "under a file", "empty"][int(position * 3.99)],
                             "art", data)
    art = root / "art"
    shutil.copytree(good_artifact, art)
    manifest, weights = art / "manifest.json", art / "weights.npz"
    if kind == "no manifest":
        manifest.unlink()
    elif kind == "no weights":
        weights.unlink()
    elif kind in ("truncated manifest", "truncated weights"):
        target = manifest if kind == "truncated manifest" else weights
        content = target.read_bytes()
        target.write_bytes(content[:int(position * (len(content) - 1))])
    elif kind in ("flipped weights byte", "flipped manifest byte"):
        target = weights if kind == "flipped weights byte" else manifest
        content = bytearray(target.read_bytes())
        index = int(position * (len(content) - 1))
        content[index] ^= (data[0] if data and data[0] else 1)
        target.write_bytes(bytes(content))
    else:
        document = json.loads(manifest.read_text())
        block = document["spec"]["quant"] if kind == "edited spec" else document["numerics"]
        numeric = sorted(key for key, value in block.items() if isinstance(value, int)
                         and not isinstance(value, bool))
        key = numeric[int(position * (len(numeric) - 1))]
        block[key] += 1 + (data[0] % 3 if data else 0)
        manifest.write_text(json.dumps(document))
    return art


def make_bad_images(root: Path, shape: tuple, dtype: str) -> Path:
    path = root / "images.npy"
    np.save(path, np.zeros(shape, dtype=dtype))
    return path


bad_paths = st.tuples(st.sampled_from(PATH_KINDS), st.binary(min_size=1, max_size=64))
bad_artifacts = st.tuples(st.sampled_from(ARTIFACT_KINDS), st.floats(0, 1), st.binary(min_size=1, max_size=4))
shapes = st.lists(st.integers(0, 40), min_size=1, max_size=5).map(tuple)
dtypes = st.sampled_from(["uint8", "int16", "float32", "bool", "uint16", "int64"])
wrong_images = st.tuples(shapes, dtypes).filter(
    lambda case: not (case[1] == "uint8" and len(case[0]) == 4 and case[0][1:] == (32, 32, 1)))


def scratch():
    return Path(tempfile.mkdtemp(prefix="rrm-bad-"))


@SETTINGS
@given(case=bad_paths, command=st.sampled_from(["analyze", "cycles", "export", "train", "synth",
                                                 "vivado", "dataset"]))
def test_bad_spec_files(case, command):
    root = scratch()
    spec = make_bad_path(root, case[0], "spec.json", case[1])
    out = root / "out"
    args = {"analyze": ["analyze", "--spec", spec], "cycles": ["cycles", "--spec", spec],
            "export": ["export", "--random", "--spec", spec, "--out", out],
            "train": ["train", "--spec", spec, "--out", out, "--epochs", "1"],
            "synth": ["synth", "--spec", spec],
            "vivado": ["vivado", "--spec", spec, "--out", out],
            "dataset": ["dataset", "--spec", spec, "--out", out]}[command]
    expect_refusal(args, out)
    shutil.rmtree(root)


@SETTINGS
@given(case=bad_artifacts, command=st.sampled_from(["export --check", "golden", "sim", "vivado", "onnx"]))
def test_bad_artifacts(case, command, good):
    root = scratch()
    art = make_bad_artifact(root, good / "art", *case)
    out = root / "out"
    args = {"export --check": ["export", "--check", art],
            "golden": ["golden", art, good / "images.npy", "--out", out],
            "sim": ["sim", art, good / "images.npy", "--out", out],
            "vivado": ["vivado", art, "--out", out],
            "onnx": ["onnx", art, "--out", out]}[command]
    message = expect_refusal(args, out)
    assert str(root) in message or "manifest" in message or "weights" in message, message
    shutil.rmtree(root)


@SETTINGS
@given(case=wrong_images, command=st.sampled_from(["golden", "sim"]))
def test_wrong_images(case, command, good):
    root = scratch()
    images = make_bad_images(root, *case)
    out = root / "out"
    expect_refusal([command, good / "art", images, "--out", out], out)
    shutil.rmtree(root)


@SETTINGS
@given(case=bad_paths, command=st.sampled_from(["golden", "sim"]))
def test_bad_image_paths(case, command, good):
    root = scratch()
    images = make_bad_path(root, case[0], "images.npy", case[1])
    out = root / "out"
    expect_refusal([command, good / "art", images, "--out", out], out)
    shutil.rmtree(root)


@SETTINGS
@given(command=st.sampled_from(["export", "dataset", "verilog", "vivado", "golden-trace", "onnx"]),
       data=st.binary(min_size=1, max_size=16))
def test_outputs_that_cannot_be_written(command, data, good):
    root = scratch()
    blocker = root / "a-file"
    blocker.write_bytes(data)
    out = blocker / "sub"
    args = {"export": ["export", "--preset", "tiny", "--random", "--out", out],
            "dataset": ["dataset", "--preset", "tiny", "--out", out],
            "verilog": ["verilog", "--block", "skid_buffer", "--preset", "tiny", "--out", out],
            "vivado": ["vivado", "--preset", "tiny", "--out", out],
            "golden-trace": ["golden", good / "art", good / "images.npy", "--trace", blocker],
            "onnx": ["onnx", good / "art", "--out", out]}[command]
    expect_refusal(args)
    assert blocker.read_bytes() == data
    shutil.rmtree(root)


INIT_KINDS = ["wrong shape", "missing key", "extra key", "non-finite", "integer tensor", "not a tensor",
              "foreign keys", "other spec", "truncated", "path kind"]


def make_bad_init(root: Path, kind: str, position: float, data: bytes) -> Path:
    """A --init file for ``tiny`` that is not a MobileNet-v1 state dict of its shape."""
    import torch

    from rrm.presets import load_preset
    from rrm.spec import unpruned
    from sw.model import MobileNet
    if kind == "path kind":
        return make_bad_path(root, PATH_KINDS[int(position * (len(PATH_KINDS) - 0.01))], "init.pt", data)
    preset = "rr-mobilenet" if kind == "other spec" else "tiny"
    state = MobileNet(unpruned(load_preset(preset))).state_dict()
    required = [k for k in state if not k.endswith(("mask", "num_batches_tracked"))]
    key = required[int(position * (len(required) - 1))]
    if kind == "wrong shape":
        state[key] = torch.zeros(state[key].shape[0] + 1 + data[0] % 3, *state[key].shape[1:])
    elif kind == "missing key":
        del state[key]
    elif kind == "extra key":
        state[f"convs.{99 + data[0]}.conv.weight"] = torch.zeros(1)
    elif kind == "non-finite":
        state[key].view(-1)[data[0] % state[key].numel()] = [float("nan"), float("inf"), -float("inf")][data[0] % 3]
    elif kind == "integer tensor":
        state[key] = state[key].to(torch.int32)
    elif kind == "not a tensor":
        state[key] = data.hex()
    elif kind == "foreign keys":
        state = {f"backbone.{i}.weight": v for i, v in enumerate(state.values())}
    path = root / "init.pt"
    torch.save(state, path)
    if kind == "truncated":
        content = path.read_bytes()
        path.write_bytes(content[:int(position * (len(content) - 1))])
    return path


@SETTINGS
@given(case=st.tuples(st.sampled_from(INIT_KINDS), st.floats(0, 1), st.binary(min_size=1, max_size=4)))
def test_bad_init_files(case):
    root = scratch()
    init = make_bad_init(root, *case)
    out = root / "out"
    message = expect_refusal(["train", "--preset", "tiny", "--out", out, "--init", init, "--max-batches", "1"], out)
    assert "--init" in message, message
    shutil.rmtree(root)
