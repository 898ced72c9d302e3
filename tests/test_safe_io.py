"""The bounded reader (rrm/safe_io.py) and what goes through it: spec files, manifests,
weights.npz members and the images/labels of golden and sim; TCL/XDC comments (issue 27)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from golden.random_weights import random_artifact
from hw.flow.vivado import build_tcl, comment_text, xdc
from rrm.artifact import MANIFEST, WEIGHTS, ArtifactError, load_artifact, manifest_digest, save_artifact
from rrm.errors import UserError
from rrm.presets import load_preset
from rrm.safe_io import MAX_INT_DIGITS, MAX_JSON_DEPTH, parse_json, read_json, read_npy, read_npz
from scripts.cli import main


def npy_header(shape, descr="<i4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    spec = load_preset("tiny")
    return save_artifact(tmp_path_factory.mktemp("art") / "art", spec, random_artifact(spec, seed=1).params)


def reseal(path: Path) -> None:
    """Recompute both checksums (a forger who knows the format)."""
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][WEIGHTS] = hashlib.sha256((path / WEIGHTS).read_bytes()).hexdigest()
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))


def copy_art(art: Path, tmp_path: Path) -> Path:
    import shutil
    return Path(shutil.copytree(art, tmp_path / "art"))


@pytest.mark.parametrize("text, message", [
    ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested too deeply"),
    ('{"a": "' + "[" * 1000 + '"}', None),     # brackets inside a string do not count
    ('{"a": "\\"[[[[" }', None),
    ("[" * 200_000, "nested too deeply"),
    ("1" * (MAX_INT_DIGITS + 1), f"integer of {MAX_INT_DIGITS + 1} digits"),
    ("[" + "1" * MAX_INT_DIGITS + "]", None),
    ("{", "not valid JSON"),
])
def test_parse_json_bounds(text, message):
    if message is None:
        parse_json(text, "x")
    else:
        with pytest.raises(UserError, match=message) as info:
            parse_json(text, "x.json")
        assert str(info.value).startswith("x.json") and "\n" not in str(info.value)


def test_read_json_names_non_utf8(tmp_path):
    (tmp_path / "a.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(UserError, match="not UTF-8"):
        read_json(tmp_path / "a.json")


def test_read_npy_refuses_declared_sizes_over_the_file(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_header((10 ** 12, 32, 32, 1), "|u1") + b"\0" * 100)
    with pytest.raises(UserError, match=r"declares shape \(1000000000000, 32, 32, 1\).*holds only 100 bytes"):
        read_npy(path)
    path.write_bytes(npy_header((3,)) + b"\0" * 11)      # one byte short
    with pytest.raises(UserError, match="truncated or forged"):
        read_npy(path)
    path.write_bytes(npy_header((3,)) + b"\0" * 12)
    assert read_npy(path).tolist() == [0, 0, 0]


def test_read_npy_refuses_a_broken_header(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz'}\n")
    with pytest.raises(UserError, match="valid .npy header"):
        read_npy(path)


def test_read_npz_refuses_a_forged_member(tmp_path):
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.npy", npy_header((10 ** 12,)) + b"\0" * 40)
    with pytest.raises(UserError, match=r"member 'a.npy' declares shape \(1000000000000,\)"):
        read_npz(path)


def test_read_npz_refuses_a_member_larger_than_deflate_allows(tmp_path):
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.npy", npy_header((4,)) + b"\0" * 16)
    data = bytearray(path.read_bytes())
    # the central directory's uncompressed size of the member: claim 2**31 bytes
    info = zipfile.ZipFile(path).infolist()[0]
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (2 ** 31).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert info.compress_size < 2 ** 31 // 1032
    with pytest.raises(UserError, match="forged zip entry|cannot be read"):
        read_npz(path)


def test_resealed_artifact_with_a_forged_member_is_refused(art, tmp_path):
    bad = copy_art(art, tmp_path)
    with zipfile.ZipFile(art / WEIGHTS) as src, zipfile.ZipFile(bad / WEIGHTS, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "fc.bias.npy":
                data = npy_header((10 ** 12,)) + b"\0" * 40
            dst.writestr(info.filename, data)
    reseal(bad)
    with pytest.raises(ArtifactError, match="fc.bias.npy' declares shape"):
        load_artifact(bad)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(version=2.0), "version 2.0 is not supported"),
    (lambda m: m.update(version=True), "version true is not supported|version True is not supported"),
    (lambda m: m["spec"]["network"].update(name="tiny\nputs PWNED"), "network.name"),
    (lambda m: m["spec"]["hardware"].update(kernel=3.0), "hardware.kernel.*must be an integer"),
    (lambda m: m["spec"]["network"]["blocks"][1].__setitem__(1, 2.0), r"network.blocks\[1\].stride"),
    (lambda m: m["spec"].update(preset="a]b"), "preset"),
])
def test_resealed_manifest_with_wrong_contents_is_refused(art, tmp_path, change, message):
    bad = copy_art(art, tmp_path)
    manifest = json.loads((bad / MANIFEST).read_text())
    change(manifest)
    (bad / MANIFEST).write_text(json.dumps(manifest))
    reseal(bad)
    with pytest.raises(ArtifactError, match=message) as info:
        load_artifact(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("body, message", [
    ('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ('{"a": ' + "7" * 5000 + "}", "integer of 5,000 digits"),
])
def test_deep_or_huge_manifest_is_refused(art, tmp_path, body, message):
    bad = copy_art(art, tmp_path)
    (bad / MANIFEST).write_text(body)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(bad)


@pytest.mark.parametrize("name", ["tiny\nputs x", "a\\", "tiny\r", "caf\u00e9", "x\x00"])
def test_comment_text_refuses_what_would_leave_a_tcl_comment(name):
    with pytest.raises(UserError, match="cannot go into a TCL/XDC comment"):
        comment_text(name)


def test_tcl_and_xdc_comments_carry_the_name():
    spec = load_preset("tiny")
    assert xdc(spec).splitlines()[0].startswith("# tiny:")
    assert build_tcl(spec, ["accelerator.v"]).splitlines()[0].startswith("# Vivado project for tiny ")


@pytest.mark.parametrize("args_of", [
    lambda spec, root: ["cycles", "--spec", spec],
    lambda spec, root: ["vivado", "--spec", spec, "--out", root / "out"],
])
def test_cli_spec_with_newline_in_name_is_refused(tmp_path, capsys, args_of):
    data = load_preset("tiny").to_dict()
    data["network"]["name"] = "tiny\nputs INJECTED"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(data))
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args_of(spec, tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "network.name" in err
    assert not (tmp_path / "out").exists()


def test_cli_golden_refuses_huge_declared_images(art, tmp_path, capsys):
    images = tmp_path / "huge.npy"
    images.write_bytes(npy_header((10 ** 12, 32, 32, 1), "|u1") + b"\0" * 64)
    with pytest.raises(SystemExit) as info:
        main(["golden", str(art), str(images)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "declares shape" in err and err.count("\n") == 1
