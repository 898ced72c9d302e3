"""Paths the commands cannot use give a one-line error and exit code 2, never a traceback
(issue: artifact integrity and bad input everywhere)."""

import pytest

from scripts.cli import main


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("artifact") / "tiny"
    assert main(["export", "--preset", "tiny", "--random", "--seed", "1", "--out", str(out)]) == 0
    return out


def run_error(args, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_output_under_an_existing_file(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = run_error(["export", "--preset", "tiny", "--random", "--out", str(blocker / "sub")], capsys)
    assert str(blocker) in err and "directory" in err
    assert blocker.read_text() == "x"


def test_golden_trace_onto_an_existing_file(tmp_path, capsys, artifact_dir):
    import numpy as np
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((1, 32, 32, 1), np.uint8))
    blocker = tmp_path / "trace"
    blocker.write_text("x")
    err = run_error(["golden", str(artifact_dir), str(images), "--trace", str(blocker)], capsys)
    assert str(blocker) in err


def test_spec_that_is_not_utf8(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_bytes(b"\xff\xfe\x00{")
    assert "not UTF-8" in run_error(["analyze", "--spec", str(spec)], capsys)


@pytest.mark.parametrize("kind", ["directory", "text file"])
def test_images_that_are_not_a_npy_file(kind, tmp_path, capsys, artifact_dir):
    path = tmp_path / "images.npy"
    if kind == "directory":
        path.mkdir()
        expected = "is a directory"
    else:
        path.write_text("not an array\n")
        expected = "not a .npy file"
    assert expected in run_error(["golden", str(artifact_dir), str(path)], capsys)


def test_golden_out_is_written_under_exactly_the_name_given(tmp_path, capsys, artifact_dir):
    import numpy as np
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((2, 32, 32, 1), np.uint8))
    out = tmp_path / "logits"
    assert main(["golden", str(artifact_dir), str(images), "--out", str(out)]) == 0
    assert out.is_file() and not (tmp_path / "logits.npy").exists()
    assert np.load(out).shape == (2, 10)
    assert f"to {out}" in capsys.readouterr().out


def test_sim_limit_must_be_positive(tmp_path, capsys, artifact_dir):
    import numpy as np
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((2, 32, 32, 1), np.uint8))
    err = run_error(["sim", str(artifact_dir), str(images), "--out", str(tmp_path / "r.json"),
                     "--limit", "0"], capsys)
    assert "--limit" in err and not (tmp_path / "r.json").exists()
