"""`rrm analyze` as a user runs it: table, JSON, plot, and one-line errors."""

import json
import subprocess
import sys

import pytest

from scripts.cli import main


def rrm(*args):
    """Run the installed entry point in a subprocess (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "scripts.cli", *args], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def test_table_by_default(capsys):
    assert main(["analyze", "--preset", "rr-mobilenet"]) == 0
    out = capsys.readouterr().out
    assert "2,019,008 weights" in out and "0.664 GOP" in out
    assert "on-chip fit (Eq. 11) on xczu9eg" in out and "fits" in out


def test_json_output(capsys):
    assert main(["analyze", "--preset", "mobilenet-v1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["total"]["params"] == 4_209_088
    assert result["total"]["macs"] == 568_740_352
    assert result["ocm"]["fits"] is False


def test_device_option(capsys):
    assert main(["analyze", "--preset", "rr-mobilenet", "--device", "xczu7ev", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ocm"]["device"] == "xczu7ev"


def test_plot_is_written(tmp_path, capsys):
    path = tmp_path / "fig5.png"
    assert main(["analyze", "--preset", "tiny", "--plot", str(path)]) == 0
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_spec_file(tmp_path, capsys):
    from rrm.presets import load_preset
    path = tmp_path / "spec.json"
    path.write_text(load_preset("tiny").to_json())
    assert main(["analyze", "--spec", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["name"] == "tiny"


@pytest.mark.parametrize("args, words", [
    (["--preset", "nope"], ["preset", "allowed: tiny, mobilenet-v1, rr-mobilenet"]),
    (["--preset", "tiny", "--device", "xc7z020"], ["device", "xczu9eg"]),
    (["--preset", "tiny", "--plot", "fig.pdf"], ["PNG"]),
])
def test_errors_are_one_line_exit_2(args, words):
    code, out, err = rrm("analyze", *args)
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("change, words", [
    (lambda d: d["network"].update(width_multiplier=0), ["network.width_multiplier", "0 < value"]),
    (lambda d: d["network"].update(pruned_channels={"dsc7": 9999}), ["network.pruned_channels.dsc7"]),
    (lambda d: d["quant"].update(weight_bits=0), ["quant.weight_bits"]),
    (lambda d: d["quant"].pop("act_frac"), ["quant.act_frac", "missing"]),
    (lambda d: d["hardware"].update(lane=8), ["hardware.lane", "lanes"]),
])
def test_bad_spec_files(tmp_path, change, words):
    from rrm.presets import load_preset
    data = load_preset("tiny").to_dict()
    change(data)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    code, out, err = rrm("analyze", "--spec", str(path))
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err


def test_missing_spec_file(tmp_path):
    code, _, err = rrm("analyze", "--spec", str(tmp_path / "none.json"))
    assert code == 2 and "does not exist" in err


def test_installed_entry_point_lists_subcommands():
    from pathlib import Path
    exe = Path(sys.executable).parent / "rrm"
    assert exe.exists(), "the rrm console script is not installed next to python"
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "analyze" in done.stdout
