"""`rrm prune-study`: the runs it trains, its JSON record, table and plot, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scripts.prune_study import StudyConfig, summary, table, train_args
from scripts.prune_study_plot import plot_study


def fake_result(orders=("forward", "reversed", "peak"), seeds=(0, 1)):
    runs = []
    for s in seeds:
        for i, order in enumerate(orders):
            curve = [{"phase": p, "epoch": e, "test_acc": 0.5 + 0.1 * e / 6 + 0.01 * i}
                     for e, p in enumerate(["float", "qat", "prune1", "prune2", "finetune"], start=1)]
            runs.append({"order": order, "seed": s, "int": 0.9 + 0.01 * i + 0.001 * s, "sparsity": 0.8,
                         "storage": {"csr5_bits": 8000 * (i + 1)}, "curve": curve})  # 1, 2, 3 kB
    result = {"network": "tiny", "config": {"orders": list(orders), "seeds": list(seeds), "keep": 0.2}, "runs": runs}
    result["summary"] = summary(runs, orders)
    return result


def test_runs_go_seed_by_seed_and_count_their_epochs():
    config = StudyConfig(orders=("forward", "peak"), seeds=(0, 1), epochs=3, qat_epochs=2, prune_steps=2,
                         prune_epochs=4, finetune_epochs=1)
    assert config.runs() == [("forward", 0), ("peak", 0), ("forward", 1), ("peak", 1)]
    assert config.epochs_per_run == 3 + 2 + 2 * 4 + 1
    args = train_args(config, "s.json", "peak", 1, "out/peak-seed1")
    assert args[args.index("--prune-order") + 1] == "peak" and args[args.index("--fine-keep") + 1] == "0.2"
    assert args[args.index("--spec") + 1] == "s.json" and "--max-batches" not in args
    assert StudyConfig().epochs_per_run == 60


def test_summary_table_and_plot(tmp_path):
    result = fake_result()
    assert result["summary"]["peak"] == {"seeds": 2, "mean": pytest.approx(0.9205), "min": pytest.approx(0.92),
                                         "max": pytest.approx(0.921)}
    text = table(result)
    assert text.splitlines()[0] == "| order | seed 0 | seed 1 | mean | sparsity | CSR (5-bit) kB |"
    assert "| reversed | 91.00 % | 91.10 % | **91.05 %** | 80.0 % | 2.0 |" in text
    plot_study(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def rrm(*args):
    done = subprocess.run([sys.executable, "-m", "scripts.cli", *args], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def test_smoke_run_writes_the_record_beside_its_plot(tmp_path):
    out = tmp_path / "res" / "prune_orders.json"
    common = ["prune-study", "--orders", "reversed", "--seeds", "0", "--epochs", "1", "--qat-epochs", "0",
              "--prune-steps", "2", "--prune-epochs", "1", "--finetune-epochs", "0", "--max-batches", "1",
              "--work", str(tmp_path / "work"), "--out", str(out), "--quiet"]
    code, stdout, stderr = rrm(*common)
    assert code == 0, stderr
    record = json.loads(out.read_text())
    assert record["kind"] == "prune_orders" and record["preset"] == "tiny"
    assert len(record["commit"]) == 40 or record["commit"] == "unknown"
    assert isinstance(record["dirty"], bool)
    assert record["config"]["epochs_per_run"] == 3 and record["config"]["keep"] == 0.2
    run = record["runs"][0]
    assert (run["order"], run["seed"]) == ("reversed", 0) and 0.0 <= run["int"] <= 1.0
    assert run["sparsity"] == pytest.approx(0.8, abs=1e-4)
    assert run["storage"]["nonzero"] <= run["storage"]["weights"] and len(run["curve"]) == 3
    assert out.with_suffix(".png").is_file()
    assert "| reversed | " in stdout
    code, _, stderr = rrm(*common)                       # an existing record needs --force
    assert code == 2 and "--force" in stderr
    code, stdout, _ = rrm(*common, "--force")            # the finished run is reused
    assert code == 0 and json.loads(out.read_text())["runs"][0]["int"] == run["int"]


@pytest.mark.parametrize("args, words", [
    (["--keep", "0"], ["--keep 0.0", "(0, 1]"]),
    (["--seeds", "0", "0"], ["--seeds 0 0"]),
    (["--prune-steps", "0"], ["--prune-steps 0"]),
    (["--out", "x.txt"], [".json"]),
    (["--keep", "0.00001"], ["leaves", "weights for"]),
])
def test_errors_are_one_line_exit_2(args, words, tmp_path):
    # --out in tmp_path (a later --out wins): the committed results/tiny/prune_orders.json is never touched
    code, out, err = rrm("prune-study", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "r.json"), *args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "w").exists()


def test_docs_quote_the_estimate_the_smoke_record_gives():
    from pathlib import Path

    from scripts.prune_study import estimate_seconds
    root = Path(__file__).resolve().parent.parent
    record = json.loads((root / "results" / "tiny" / "prune_orders_smoke.json").read_text())
    assert record["dirty"] is False and record["config"]["jobs"] == 1
    text = (root / "docs" / "prune_study.md").read_text(encoding="utf-8")
    one, two = estimate_seconds(record, StudyConfig(), 1), estimate_seconds(record, StudyConfig(), 2)
    assert one <= 25 * 60
    assert f"**about {one / 60:.0f} minutes ({one:,.0f} s)**" in text
    assert f"`--jobs 2` gives {two:,.0f} s" in text
    assert f"load average {record['machine']['load_before']:.1f} on the {record['machine']['cpus']} cores" in text
    timing = record["runs"][0]["timing"]
    around = record["wall_time_s"] - record["runs"][0]["wall_time_s"]
    assert f"epochs of {timing['float_epoch_s']:.2f} s" in text and f"of {timing['quantized_epoch_s']:.2f} s" in text
    assert f"{timing['outside_epochs_s'] + around:.1f} s" in text


def test_plot_from_a_record_trains_nothing(tmp_path):
    record = tmp_path / "study.json"
    record.write_text(json.dumps({"kind": "prune_orders", "commit": "0" * 40, **fake_result()}))
    code, stdout, stderr = rrm("prune-study", "--plot-from", str(record), "--plot", str(tmp_path / "p.png"))
    assert code == 0, stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert table(fake_result()) in stdout
    code, _, stderr = rrm("prune-study", "--plot-from", str(record), "--plot", str(tmp_path / "p.png"))
    assert code == 2 and "--force" in stderr                      # nothing overwritten unasked
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "sim"}))
    for args, words in ((["--plot-from", str(other)], ["not a prune-study record", "'sim'"]),
                        (["--plot-from", str(tmp_path / "none.json")], ["no such file"]),
                        (["--plot-from", str(record), "--plot", str(tmp_path / "p.svg")], [".png"]),
                        (["--plot", str(tmp_path / "q.png")], ["only with --plot-from"])):
        code, _, stderr = rrm("prune-study", *args)
        assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
        assert all(word in stderr for word in words), stderr


def test_docs_results_are_the_recorded_study():
    from pathlib import Path
    import statistics

    root = Path(__file__).resolve().parent.parent
    record = json.loads((root / "results" / "tiny" / "prune_orders.json").read_text())
    assert record["dirty"] is False and record["config"]["seeds"] == [0, 1, 2]
    assert set(record["summary"]) == {"forward", "reversed", "peak"}
    text = (root / "docs" / "prune_study.md").read_text(encoding="utf-8")
    assert table(record) in text
    assert f"commit `{record['commit'][:12]}`" in text
    qat = statistics.fmean(row["qat"] for row in record["runs"])
    assert f"QAT top-1 {100 * qat:.2f} %" in text
    flat = text.replace("\n", " ")
    deltas = {o: f"{100 * (record['summary'][o]['mean'] - qat):+.1f}" for o in ("peak", "forward", "reversed")}
    assert (f"peak ends {deltas['peak']} points, forward {deltas['forward']}, reversed {deltas['reversed']};"
            in flat)
    means = sorted(record["summary"], key=lambda o: record["summary"][o]["mean"])
    assert means == ["reversed", "forward", "peak"]      # the ranking the text explains
