"""`rrm train-seeds` (scripts/train_seeds.py): the three-seed table and its verdict, from finished runs (no training here)."""

import json

from scripts.cli import main


def _finished_run(root, seed, float_top1, int_top1):
    run = root / f"seed-{seed}"
    (run / "artifact").mkdir(parents=True)
    report = {"accuracy": {"float_top1": float_top1, "qat_top1": 0.98, "pruned_qat_top1": 0.975,
                           "pruned_int_top1": int_top1},
              "wall_time_s": 100.0 + seed, "environment": {"threads": 1}}
    (run / "report.json").write_text(json.dumps(report))
    (run / "artifact" / "manifest.json").write_text(json.dumps({"files": {"weights.npz": f"{seed:064x}"}}))


def test_table_and_goals_from_finished_runs(tmp_path, capsys):
    _finished_run(tmp_path, 0, 0.99, 0.985)
    _finished_run(tmp_path, 1, 0.99, 0.98)
    assert main(["train-seeds", "--out", str(tmp_path), "--seeds", "0", "1"]) == 0
    text = capsys.readouterr().out
    assert "seed 0: reusing" in text and "| 0 | 99.00 % | 98.00 % | 97.50 % | **98.50 %** | 0.50 | 100 s |" in text
    assert "every seed meets the goals" in text
    assert (tmp_path / "seeds.md").is_file() and len(json.loads((tmp_path / "seeds.json").read_text())) == 2


def test_a_seed_below_97_or_losing_more_than_1_5_points_fails(tmp_path, capsys):
    _finished_run(tmp_path, 0, 0.99, 0.969)   # below 97 %
    _finished_run(tmp_path, 1, 0.995, 0.979)  # 1.6 points lost
    _finished_run(tmp_path, 2, 0.99, 0.975)   # fine: 1.5 points
    assert main(["train-seeds", "--out", str(tmp_path)]) == 1
    assert "seed(s) [0, 1] miss the goals" in capsys.readouterr().out
