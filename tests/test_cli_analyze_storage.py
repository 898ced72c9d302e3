"""`rrm analyze` with sparse storage: --keep, --keep-layer, --order, --artifact, and --preset alexnet."""

import json
import subprocess
import sys

import numpy as np
import pytest

from scripts.cli import main


def test_alexnet_table_and_stages(capsys):
    assert main(["analyze", "--preset", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "60,965,224 parameters = 243.86 MB in float32" in out
    assert "4,625,722 kept = 13.2x fewer" in out
    line = next(l for l in out.splitlines() if "pruned + quantized, CSR (5-bit index)" in l)
    assert "8.595" in line and "28.4x" in line and "8.7 MB, 28x" in line


def test_alexnet_json_and_other_ratios(capsys):
    assert main(["analyze", "--preset", "alexnet", "--json", "--keep", "0.1", "--order", "peak"]) == 0
    result = json.loads(capsys.readouterr().out)
    layers = {row["name"]: row for row in result["storage"]["layers"]}
    assert result["storage"]["total"]["kept"] == round(0.1 * 60_954_656)
    assert layers["conv1"]["kept"] == 34_848                  # under the water level: whole
    assert layers["fc6"]["kept"] == layers["fc7"]["kept"]     # both cut to the level
    assert result["paper"]["compressed_mb"] == 8.7


def test_mobilenet_keep_adds_the_storage_section(capsys):
    assert main(["analyze", "--preset", "tiny", "--keep", "0.2", "--keep-layer", "dsc2.dw=0.5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    layers = {row["name"]: row for row in result["storage"]["layers"]}
    assert layers["conv1"]["kept"] == layers["conv1"]["weights"]           # not prunable by default: dense
    assert layers["dsc2.dw"]["kept"] == 36                                  # named: 0.5 of 72
    assert layers["fc"]["kept"] == round(0.2 * layers["fc"]["weights"])
    assert "total" in result and "storage" in result
    assert main(["analyze", "--preset", "tiny", "--keep", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "sparse storage, expected" in out and "CSR overhead:" in out


def test_artifact_gives_exact_sizes(tmp_path, capsys):
    from golden.random_weights import random_artifact
    from rrm.artifact import save_artifact
    from rrm.presets import load_preset
    spec = load_preset("tiny")
    params = dict(random_artifact(spec, 3).params)
    params["fc.weight"] = np.where(np.arange(params["fc.weight"].size).reshape(params["fc.weight"].shape) % 4 == 0,
                                   params["fc.weight"], 0)
    save_artifact(tmp_path / "a", spec, params)
    assert main(["analyze", "--artifact", str(tmp_path / "a"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    fc = next(row for row in result["storage"]["layers"] if row["name"] == "fc")
    assert result["storage"]["settings"]["source"] == "exact"
    assert fc["kept"] == np.count_nonzero(params["fc.weight"])


def rrm(*args):
    done = subprocess.run([sys.executable, "-m", "scripts.cli", *args], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("args, words", [
    (["--preset", "tiny", "--keep", "1.5"], ["--keep", "fraction in (0, 1], got 1.5"]),
    (["--preset", "tiny", "--keep-layer", "fc"], ["--keep-layer 'fc'", "NAME=R"]),
    (["--preset", "tiny", "--keep-layer", "nope=0.5"], ["no prunable layer 'nope'"]),
    (["--preset", "tiny", "--keep", "0.2", "--index-bits", "0"], ["--index-bits 0", "1..16"]),
    (["--preset", "alexnet", "--device", "xczu9eg"], ["--device", "analysis-only"]),
    (["--preset", "tiny", "--markdown"], ["--markdown", "alexnet"]),
    (["--artifact", "/nonexistent/artifact"], ["nonexistent"]),
])
def test_errors_are_one_line_exit_2(args, words):
    code, out, err = rrm("analyze", *args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err
