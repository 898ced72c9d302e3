"""Every ``rrm`` subcommand driven with generated bad input (hypothesis): missing paths,
directories, files where directories belong, non-UTF-8, empty or text files, truncated or
bit-flipped artifacts, manifests edited by hand, images of the wrong shape or dtype; and
(issue 27) wrong-typed values inside well-formed spec JSON (3.0 or true for an integer, names
with control characters), manifests re-sealed with both checksums recomputed whose contents
are wrong (spec values, version 2.0, numerics, forged or extra .npz members), JSON nested
33..50,000 deep or with integers of 41..6,000 digits in a spec or a manifest, and .npy
headers declaring millions to 10^13+ elements.

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


# --- issue 27: wrong values inside well-formed JSON, re-sealed manifests, deep or huge JSON,
# huge declared shapes, names with control characters --------------------------------------

def _leaves(node, path=()):
    """(path, value) of every scalar of a spec dict; lists by index."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, path + (index,))
    else:
        yield path, node


def _field_name(path) -> str:
    """The dotted field name a SpecError uses for ``path`` (blocks: [i].channels/.stride)."""
    if path[:2] == ("network", "blocks"):
        return f"network.blocks[{path[2]}].{('channels', 'stride')[path[3]]}"
    return ".".join(str(part) for part in path)


def _tiny_document() -> dict:
    from rrm.presets import load_preset
    data = load_preset("tiny").to_dict()
    data["hardware"]["serial_bn"] = False      # so a boolean field is among the leaves
    data["hardware"]["tiling"] = {"conv1": {"ti": 1, "tj": 1, "tn": 1, "tm": 8}}
    return data


SPEC_LEAVES = [path for path, _ in _leaves(_tiny_document())]
CONTROL = "".join(chr(c) for c in range(32)) + "\x7f"


def wrong_value_for(value):
    """Values of the wrong type (or, for names, the wrong characters) for a field holding
    ``value``: each is refused whatever the field's range."""
    anything_else = st.one_of(st.none(), st.lists(st.integers(0, 3), max_size=2), st.just({}),
                              st.text(max_size=8).map(lambda s: "x" + s))
    if isinstance(value, bool):
        return st.one_of(st.integers(-2, 2), st.just("true"), anything_else)
    if isinstance(value, int):
        return st.one_of(st.just(float(value)), st.floats(allow_nan=False, allow_infinity=False)
                         .filter(lambda f: f.is_integer()), st.booleans(), st.just(str(value)), anything_else)
    if isinstance(value, float):
        return st.one_of(st.booleans(), st.just(str(value)), st.none(),
                         st.sampled_from([float("nan"), float("inf"), -float("inf")]),
                         st.lists(st.floats(0, 1), min_size=1, max_size=2))
    # strings: the network's name, the device, the preset
    bad_name = st.tuples(st.text(alphabet="abc-", max_size=5), st.text(alphabet=CONTROL, min_size=1, max_size=3),
                         st.text(alphabet="abc \\[]$;\"{}", max_size=5)).map(lambda t: "t" + "".join(t))
    return st.one_of(bad_name, st.integers(-3, 3), st.booleans(), st.none(), st.just(["tiny"]))


def _set(document, path, value):
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@st.composite
def wrong_spec_values(draw):
    path = draw(st.sampled_from(SPEC_LEAVES))
    document = _tiny_document()
    node = document
    for part in path:
        node = node[part]
    value = draw(wrong_value_for(node))
    if path[-1] == "device" and value in ("xczu9eg", "xczu3eg"):   # not generated, but be sure
        value = None
    _set(document, path, value)
    return path, value, document


@SETTINGS
@given(case=wrong_spec_values(), command=st.sampled_from(["analyze", "cycles", "verilog", "export",
                                                          "vivado", "train"]))
def test_wrong_values_in_well_formed_spec_json(case, command):
    path, value, document = case
    event(f"field {path[0]}.{path[1] if len(path) > 1 else ''}")
    root = scratch()
    spec = root / "spec.json"
    spec.write_text(json.dumps(document))
    out = root / "out"
    args = {"analyze": ["analyze", "--spec", spec], "cycles": ["cycles", "--spec", spec],
            "verilog": ["verilog", "--block", "skid_buffer", "--spec", spec, "--out", out],
            "export": ["export", "--random", "--spec", spec, "--out", out],
            "vivado": ["vivado", "--spec", spec, "--out", out],
            "train": ["train", "--spec", spec, "--out", out, "--epochs", "1"]}[command]
    message = expect_refusal(args, out)
    assert _field_name(path) in message, (path, value, message)
    assert "\n" not in message and "\r" not in message
    shutil.rmtree(root)


RESEAL_KINDS = ["wrong-typed spec value", "version as float", "name with control character",
                "numerics edited", "forged npz member", "extra npz member"]


def _reseal(art: Path) -> None:
    from rrm.artifact import _sha256, manifest_digest
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["files"]["weights.npz"] = _sha256(art / "weights.npz")
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (art / "manifest.json").write_text(json.dumps(manifest))


@st.composite
def resealed_artifacts(draw):
    kind = draw(st.sampled_from(RESEAL_KINDS))
    detail = {}
    if kind == "wrong-typed spec value":
        path = draw(st.sampled_from([p for p in SPEC_LEAVES if len(p) < 2 or p[1] != "tiling"]))
        node = _tiny_document()
        for part in path:
            node = node[part]
        detail = {"path": path, "value": draw(wrong_value_for(node))}
    elif kind == "name with control character":
        detail = {"name": "tiny" + draw(st.text(alphabet=CONTROL, min_size=1, max_size=3))
                  + draw(st.text(alphabet="puts x;", max_size=6))}
    elif kind in ("numerics edited",):
        detail = {"delta": draw(st.integers(1, 5))}
    elif kind in ("forged npz member", "extra npz member"):
        detail = {"elements": draw(st.integers(10 ** 7, 10 ** 15)), "index": draw(st.integers(0, 200))}
    return kind, detail


def make_resealed(root: Path, good_artifact: Path, kind: str, detail: dict) -> Path:
    import zipfile
    art = root / "art"
    shutil.copytree(good_artifact, art)
    manifest = json.loads((art / "manifest.json").read_text())
    if kind == "wrong-typed spec value":
        _set(manifest["spec"], detail["path"], detail["value"])
    elif kind == "version as float":
        manifest["version"] = 2.0
    elif kind == "name with control character":
        manifest["spec"]["network"]["name"] = detail["name"]
    elif kind == "numerics edited":
        manifest["numerics"]["act_max"] += detail["delta"]
    else:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False,
                                                      "shape": (detail["elements"],)})
        members = zipfile.ZipFile(good_artifact / "weights.npz")
        names = members.namelist()
        target = names[detail["index"] % len(names)] if kind == "forged npz member" else "zz.npy"
        with zipfile.ZipFile(art / "weights.npz", "w") as out:
            for name in names:
                out.writestr(name, header.getvalue() + b"\0" * 16 if name == target else members.read(name))
            if target not in names:
                out.writestr(target, header.getvalue())
    (art / "manifest.json").write_text(json.dumps(manifest))
    _reseal(art)
    return art


@SETTINGS
@given(case=resealed_artifacts(), command=st.sampled_from(["export --check", "golden", "sim", "vivado", "onnx"]))
def test_resealed_manifests_with_wrong_contents(case, command, good):
    kind, detail = case
    event(f"resealed: {kind}")
    root = scratch()
    art = make_resealed(root, good / "art", kind, detail)
    out = root / "out"
    args = {"export --check": ["export", "--check", art],
            "golden": ["golden", art, good / "images.npy", "--out", out],
            "sim": ["sim", art, good / "images.npy", "--out", out],
            "vivado": ["vivado", art, "--out", out],
            "onnx": ["onnx", art, "--out", out]}[command]
    message = expect_refusal(args, out)
    if kind == "wrong-typed spec value":
        assert _field_name(detail["path"]) in message, message
    elif kind == "name with control character":
        assert "network.name" in message, message
    elif kind in ("forged npz member", "extra npz member"):
        assert "weights.npz" in message, message
    shutil.rmtree(root)


@st.composite
def deep_or_huge_json(draw):
    kind = draw(st.sampled_from(["deep arrays", "deep objects", "long integer", "long negative integer"]))
    if kind.startswith("deep"):
        depth = draw(st.integers(33, 50_000))
        opener, closer = ("[", "]") if kind == "deep arrays" else ('{"a":', "}")
        inner = opener * depth + "1" + closer * depth if kind == "deep objects" else opener * depth + closer * depth
        return kind, inner
    digits = draw(st.integers(41, 6000))
    return kind, ("-" if "negative" in kind else "") + "9" * digits


@SETTINGS
@given(case=deep_or_huge_json(), where=st.sampled_from(["spec field", "spec top", "manifest field",
                                                        "manifest top"]),
       command=st.sampled_from(["cycles", "vivado", "export --check", "golden"]))
def test_deep_or_huge_json(case, where, command, good):
    kind, value = case
    event(f"{kind} in {where}")
    root = scratch()
    out = root / "out"
    if where.startswith("spec"):
        text = (_tiny_json_with("network", "num_classes", value) if where == "spec field" else value)
        spec = root / "spec.json"
        spec.write_text(text)
        args = {"cycles": ["cycles", "--spec", spec], "vivado": ["vivado", "--spec", spec, "--out", out],
                "export --check": ["export", "--random", "--spec", spec, "--out", out],
                "golden": ["golden", "--bench", "--random-weights", "--spec", spec]}[command]
    else:
        art = root / "art"
        shutil.copytree(good / "art", art)
        manifest = (art / "manifest.json").read_text()
        (art / "manifest.json").write_text(manifest.replace('"format":', f'"deep": {value}, "format":', 1)
                                           if where == "manifest field" else value)
        args = {"cycles": ["export", "--check", art], "vivado": ["vivado", art, "--out", out],
                "export --check": ["export", "--check", art],
                "golden": ["golden", art, good / "images.npy", "--out", out]}[command]
    message = expect_refusal(args, out)
    assert ("nested too deeply" in message if kind.startswith("deep") else "digits" in message), message
    shutil.rmtree(root)


def _tiny_json_with(section: str, key: str, raw: str) -> str:
    document = _tiny_document()
    document[section][key] = "@@"
    return json.dumps(document).replace('"@@"', raw)


@SETTINGS
@given(shape=st.tuples(st.integers(10 ** 6, 10 ** 13), st.lists(st.integers(1, 64), max_size=4))
       .map(lambda t: (t[0], *t[1])),
       dtype=st.sampled_from(["|u1", "<i8", "<f4"]), held=st.integers(0, 4096),
       command=st.sampled_from(["golden", "sim", "golden --labels"]))
def test_huge_declared_shapes(shape, dtype, held, command, good):
    event(f"{command}")
    root = scratch()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    path = root / "huge.npy"
    path.write_bytes(header.getvalue() + b"\0" * held)
    out = root / "out"
    if command == "golden --labels":
        args = ["golden", good / "art", good / "images.npy", "--labels", path, "--out", out]
    else:
        args = [command, good / "art", path, "--out", out]
    message = expect_refusal(args, out)
    assert "declares shape" in message, message
    shutil.rmtree(root)


@SETTINGS
@given(where=st.sampled_from([(), ("network",), ("quant",), ("hardware",), ("network", "pruned_channels"),
                              ("hardware", "tiling")]),
       key=st.tuples(st.text(alphabet="dsc7ab", max_size=4), st.text(alphabet=CONTROL, min_size=1, max_size=3),
                     st.text(alphabet="puts x;[]", max_size=6)).map("".join),
       command=st.sampled_from(["analyze", "cycles", "vivado"]))
def test_keys_with_control_characters(where, key, command):
    """A key with a newline (or any control character) in any object of the spec: refused on
    one line, the character written as an escape."""
    event(f"key in {'.'.join(where) or 'spec'}")
    root = scratch()
    document = _tiny_document()
    node = document
    for part in where:
        node = node[part]
    node[key] = {"ti": 1, "tj": 1, "tn": 1, "tm": 8} if where == ("hardware", "tiling") else 1
    spec = root / "spec.json"
    spec.write_text(json.dumps(document))
    out = root / "out"
    args = {"analyze": ["analyze", "--spec", spec], "cycles": ["cycles", "--spec", spec],
            "vivado": ["vivado", "--spec", spec, "--out", out]}[command]
    message = expect_refusal(args, out)
    assert not any(char < " " or char == "\x7f" for char in message), message
    shutil.rmtree(root)
