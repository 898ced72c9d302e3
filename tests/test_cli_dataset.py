"""`rrm dataset`: the split as uint8 arrays, from the embedded digits or an ImageFolder."""

import json

import numpy as np

from scripts.cli import main
from tests.test_sw_data import folder_spec, write_image_folder


def test_digits_test_split(tmp_path, capsys):
    assert main(["dataset", "--preset", "tiny", "--out", str(tmp_path)]) == 0
    images, labels = np.load(tmp_path / "images.npy"), np.load(tmp_path / "labels.npy")
    assert images.dtype == np.uint8 and images.shape == (360, 32, 32, 1)
    assert labels.shape == (360,) and set(labels.tolist()) == set(range(10))
    assert not list(tmp_path.glob(".*.tmp"))


def test_image_folder_val_split_with_limit(tmp_path, capsys):
    root = tmp_path / "data"
    write_image_folder(root)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(folder_spec().to_dict()))
    out = tmp_path / "out"
    assert main(["dataset", "--spec", str(spec_file), "--data", str(root), "--limit", "3",
                 "--out", str(out)]) == 0
    images = np.load(out / "images.npy")
    assert images.dtype == np.uint8 and images.shape == (3, 16, 16, 3)
