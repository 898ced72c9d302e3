"""Train ``tiny`` with seeds 0, 1 and 2 and print one table: is the recipe robust?
(``rrm train-seeds``, :mod:`scripts.commands.train_seeds`.)

Each seed trains with the default recipe (``rrm train --preset tiny``, plus any
arguments after ``--``) into ``DIR/seed-N``; a finished run there is reused and an
interrupted one resumed. The table gives float, QAT, pruned QAT and pruned integer
(the exported artifact, integer emulation = golden) test top-1, the float -> integer
drop, the wall time and the first digits of the weights' sha256 (same seed and thread
count => same digits). The goals (issue 12): pruned integer >= 97 % and a drop of at
most 1.5 points for every seed; the exit status is 1 if a seed misses one.

A benchmark, not a test: about 2 minutes per seed on one core.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_INT_TOP1 = 0.97
MAX_DROP = 0.015


def train_args(seed: int, run: Path, threads: int, extra: list[str]) -> list[str]:
    """The ``rrm train`` arguments of one seed's run (``extra``: what followed ``--``)."""
    return ["--preset", "tiny", "--out", str(run), "--seed", str(seed), "--threads", str(threads),
            "--quiet", *extra]


def train_one(seed: int, out: Path, threads: int, extra: list[str]) -> dict:
    """Train (or reuse, or resume) one seed; return its row of the table."""
    run = out / f"seed-{seed}"
    report = run / "report.json"
    if not report.is_file():
        # rrm train runs from the project root: give it the run directory as an absolute path
        cmd = [sys.executable, "-m", "scripts.cli", "train", *train_args(seed, run.resolve(), threads, extra)]
        if (run / "checkpoint.pt").is_file():
            cmd.append("--resume")
        print(f"seed {seed}: training into {run}", flush=True)
        tic = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"seed {seed}: rrm train failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        print(f"seed {seed}: done in {time.monotonic() - tic:.0f} s", flush=True)
    else:
        print(f"seed {seed}: reusing {run}", flush=True)
    data = json.loads(report.read_text())
    manifest = json.loads((run / "artifact" / "manifest.json").read_text())
    acc = data["accuracy"]
    return {"seed": seed, "float": acc["float_top1"], "qat": acc["qat_top1"], "pruned_qat": acc["pruned_qat_top1"],
            "int": acc["pruned_int_top1"], "drop": acc["float_top1"] - acc["pruned_int_top1"],
            "time_s": data["wall_time_s"], "threads": data["environment"]["threads"],
            "weights": manifest["files"]["weights.npz"][:12]}


def table(rows: list[dict]) -> str:
    lines = ["| seed | float | QAT | pruned QAT | **pruned integer** | drop (points) | wall time | "
             "weights sha256 |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {100 * r['float']:.2f} % | {100 * r['qat']:.2f} % | "
                     f"{100 * r['pruned_qat']:.2f} % | **{100 * r['int']:.2f} %** | {100 * r['drop']:.2f} | "
                     f"{r['time_s']:.0f} s | `{r['weights']}` |")
    return "\n".join(lines)


def train_seeds(out: Path, seeds: list[int], threads: int, jobs: int, extra: list[str]) -> int:
    """Train (or reuse) every seed into ``out/seed-N``, print and write the table; 1 if a seed misses a goal."""
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(lambda s: train_one(s, out, threads, extra), seeds))
    text = table(rows)
    misses = [r["seed"] for r in rows if r["int"] < MIN_INT_TOP1 or r["drop"] > MAX_DROP + 1e-9]
    verdict = (f"every seed meets the goals (pruned integer >= {100 * MIN_INT_TOP1:.0f} %, drop <= "
               f"{100 * MAX_DROP:.1f} points)" if not misses else f"seed(s) {misses} miss the goals")
    print()
    print(text)
    print()
    print(verdict)
    (out / "seeds.md").write_text(text + "\n\n" + verdict + "\n")
    (out / "seeds.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if misses else 0
