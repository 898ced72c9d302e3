"""The mutation benchmark's test plan, its checks and its workers (``rrm mutate``).

A mutant (:mod:`hw.flow.mutate`: one Yosys ``mutate`` mutation of the tiny accelerator)
runs the whole accelerator in Verilator through :func:`tb.accelerator_sim.simulate`, on a
fast subset of what the RTL suite checks (:func:`plan`). As in YosysHQ's mcy, every
mutation of a run is in one design (:func:`hw.flow.mutate.selectable_verilog`), built
once; mutant ``i`` (from 0) is that build with its selector input at ``i + 1`` (the
testbench drives it before anything else), the original design (the baseline) at 0.

* run 0, streams without pauses (cycle counts as the cycle model's): a good parameter stream; four bad
  ones (cut short, too long, another spec's hash, a wrong magic word), each flagged
  (``param_error``) and never loaded; the good one again; three images whose FC ties two
  classes on the top logit (tb.test_accelerator_corners's tied artifact: the class beat
  must give the lower index), sent as frames of which the second is cut short by
  ``tlast`` (``image_error`` set for it only, every image computed bit-exactly); then
  another parameter stream offered while an image computes (:func:`busy_steps`: the
  image keeps the old parameters, the stream loads after it, the image again under the
  new ones);
* run 1, pauses on every stream (gaps and backpressure; the image stream idle on 90 % of
  cycles, so conv1 catches up with the image loader and waits on its ring): the stream of
  an artifact whose layers take the shifts 0..6 with small weights
  (:func:`tb.artifacts.shift_spread_artifact`, so the BN unit's low bits and small-shift windows decide
  activations) and one image, with every feature-map write monitored (``debug_write_*``);
* run 2, pauses on every stream: one image of the BN-walk artifact
  (:func:`tb.artifacts.bn_walk_artifact`: half the channels of every layer constant, the BN
  sum a single bit walking up, so every bit of the BN units' over-range masks and windows
  decides some activation; its constant channels reach the FC pool with the result
  stream's backpressure stalling the FC), feature-map writes monitored.

Every image's logits and class must equal golden's, its ``image_error`` the expected
flag, (run 0) its ``layer_cycles`` and ``image_cycles`` the cycle model's
(:func:`hw.cost.cycle_model.cycle_model`), and (runs 1 and 2) every conv/dw/pw feature map the
RTL wrote must equal golden's trace (:func:`tb.accelerator_sim.first_mismatch`). A mutant is *killed* when anything differs or
the simulation fails, *timed out* when it runs past the time limit (also a detection),
*survived* when everything agrees, and an *error* when it could not be made (Yosys
refused the mutation: no verdict).

Each mutant runs in its own process group (``python -m tb.mutation RUN_DIR INDEX``), so a
mutant that hangs the simulation is killed whole at the limit; :func:`run_all` runs them
on a pool of threads (:class:`SubprocessRunner`) and :func:`classify` turns what a worker
left into a verdict.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model

from rrm.param_stream import pack_parameters
from rrm.presets import load_preset

from .artifacts import bn_walk_artifact, shift_spread_artifact, tied_artifact
from .build import ROOT, build_design

#: The block a mutation run mutates and the preset it is built for.
BLOCK = "accelerator"
PRESET = "tiny"

#: Verdicts, in report order.
STATUSES = ("killed", "timeout", "survived", "equivalent", "error")

#: Classes whose FC rows and biases are made equal and lifted to the top (as the RTL suite's tie test).
TIE_LOW, TIE_HIGH = 3, 6
#: Where the short frame's ``tlast`` comes (pixels), as the RTL suite's short-frame test.
SHORT_FRAME = 101
#: Run 1's image stream pauses on this share of cycles: slower than conv1 reads the image ring.
SLOW_IMAGE_PAUSE = 0.9


def _images(spec, count: int, seed: int) -> np.ndarray:
    size, channels = spec.network.input_size, spec.network.input_channels
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, channels), dtype=np.uint8)


def image_expect(artifact, images, errors, model_cycles=None) -> list:
    """Per image of ``images`` under ``artifact``: golden's logits and class, the expected
    ``image_error`` (``errors``) and, given the cycle model's figures, the image's and layers' cycles."""
    logits = model.run(artifact, images)
    layer_cycles = [layer.cycles for layer in model_cycles.layers] if model_cycles else None
    return [{"logits": [int(v) for v in row], "class": int(np.argmax(row)), "image_error": int(error),
             "cycles": model_cycles.cycles if model_cycles else None, "layer_cycles": layer_cycles}
            for row, error in zip(logits, errors)]


def busy_steps(image, params) -> list:
    """A parameter stream offered while ``image`` computes (the loader must hold it off until the
    image is done), that image's result, then ``image`` again under the new parameters."""
    return [{"op": "queue", "data": image},
            {"op": "params", "data": params, "when_busy": True},
            {"op": "results", "count": len(image)},
            {"op": "images", "data": image}]


def busy_expect(before, after) -> list:
    """The expectations of :func:`busy_steps`: the image under the old parameters (``before``),
    the stream loaded, the image under the new ones (``after``)."""
    return [{"images": []}, {"loaded": 1, "error": 0}, {"images": before}, {"images": after}]


def monitored_run(artifact, image, **pauses) -> dict:
    """A run of one ``image`` under ``artifact`` with every feature-map write monitored:
    loaded, bit-exact logits, every map as golden's trace; ``pauses`` (``gaps``,
    ``backpressure``, ``image_pause``) as :func:`tb.accelerator_sim.simulate` takes them."""
    _, trace = model.run(artifact, image, trace=True)
    return {
        "gaps": False, "backpressure": False, **pauses, "check_cycles": False,
        "maps": {name: values[0] for name, values in trace.items()},
        "steps": [{"op": "params", "data": pack_parameters(artifact)}, {"op": "images", "data": image}],
        "expect": [{"loaded": 1, "error": 0}, {"images": image_expect(artifact, image, [0])}, {"maps": True}],
    }


def plan(spec=None) -> list:
    """The runs of one mutant: ``[{"gaps", "backpressure", "check_cycles", "steps": [...],
    "expect": [...]}, ...]``; steps as :func:`tb.accelerator_sim.simulate` takes them (numpy
    data), one expectation per step (params: loaded/error; images and frames: per image
    logits, class, image_error and, where ``check_cycles``, the cycle model's cycles; where
    a run has ``maps`` (golden's feature maps of its one image, by layer name) the run is
    monitored and one more expectation, ``{"maps": True}``, wants every map as golden's)."""
    spec = spec or load_preset(PRESET)
    pixels = spec.network.input_size ** 2
    model_cycles = cycle_model(spec)

    tie_images = _images(spec, 3, 21)
    good_artifact = tied_artifact(spec, 14, TIE_LOW, TIE_HIGH, tie_images)
    good = pack_parameters(good_artifact)
    other_artifact = random_artifact(spec, 7)
    other = pack_parameters(other_artifact)
    too_long = np.concatenate([good, good[:3]])
    wrong_spec, wrong_magic = good.copy(), good.copy()
    wrong_spec[1] ^= 1
    wrong_magic[0] ^= 1

    loaded, refused = {"loaded": 1, "error": 0}, {"loaded": 0, "error": 1}
    main = {
        "gaps": False, "backpressure": False, "check_cycles": True,
        "steps": [{"op": "params", "data": good},
                  {"op": "params", "data": other, "beats": len(other) - 5},
                  {"op": "params", "data": too_long},
                  {"op": "params", "data": wrong_spec},
                  {"op": "params", "data": wrong_magic},
                  {"op": "params", "data": good},
                  {"op": "frames", "data": tie_images.reshape(-1, spec.network.input_channels),
                   "lengths": [pixels, SHORT_FRAME, pixels - SHORT_FRAME, pixels], "results": 3},
                  *busy_steps(tie_images[:1], other)],
        "expect": [loaded, refused, refused, refused, refused, loaded,
                   {"images": image_expect(good_artifact, tie_images, [0, 1, 0], model_cycles)},
                   *busy_expect(image_expect(good_artifact, tie_images[:1], [0], model_cycles),
                                image_expect(other_artifact, tie_images[:1], [0], model_cycles))],
    }
    stalls = monitored_run(shift_spread_artifact(spec, 15), _images(spec, 1, 22),
                           gaps=True, backpressure=True, image_pause=SLOW_IMAGE_PAUSE)
    walks = monitored_run(bn_walk_artifact(spec, 16), _images(spec, 1, 23), gaps=True, backpressure=True)
    for expect in main["expect"][6]["images"]:   # the tie, as golden has it
        assert expect["class"] == TIE_LOW, "the tied artifact has no tie on top"
    return [main, stalls, walks]


def compare_run(index: int, got_steps: list, expect: list) -> list:
    """Differences of one run's recorded steps from its expectations (messages)."""
    out = []
    if len(got_steps) != len(expect):
        return [f"run {index}: {len(got_steps)} steps recorded, {len(expect)} planned"]
    for number, (got, want) in enumerate(zip(got_steps, expect)):
        where = f"run {index} step {number} ({got.get('op')})"
        if "maps" in want:
            if got.get("op") != "maps" or got.get("mismatch") is not None:
                out.append(f"{where}: feature maps differ from golden's: {got.get('mismatch')}")
            continue
        if "images" not in want:
            state = (got.get("loaded"), got.get("error"))
            if state != (want["loaded"], want["error"]):
                out.append(f"{where}: params_loaded/param_error {state}, want "
                           f"{(want['loaded'], want['error'])}")
            continue
        images = got.get("images", [])
        if len(images) != len(want["images"]):
            out.append(f"{where}: {len(images)} results, want {len(want['images'])}")
            continue
        for image, (result, expected) in enumerate(zip(images, want["images"])):
            label = f"{where} image {image}"
            if result["logits"] != expected["logits"]:
                out.append(f"{label}: logits {result['logits']}, golden {expected['logits']}")
            if result["class"] != expected["class"]:
                out.append(f"{label}: class {result['class']}, golden {expected['class']}")
            if result["image_error"] != expected["image_error"]:
                out.append(f"{label}: image_error {result['image_error']}, want {expected['image_error']}")
            if expected["layer_cycles"] is not None and result["layer_cycles"] != expected["layer_cycles"]:
                layer = next(i for i, (a, b) in enumerate(zip(result["layer_cycles"], expected["layer_cycles"]))
                             if a != b) if len(result["layer_cycles"]) == len(expected["layer_cycles"]) else 0
                out.append(f"{label}: layer {layer} took {result['layer_cycles'][layer]} cycles, "
                           f"cycle model {expected['layer_cycles'][layer]}")
            if expected["cycles"] is not None and result["cycles"] != expected["cycles"]:
                out.append(f"{label}: {result['cycles']} image cycles, cycle model {expected['cycles']}")
    return out


def classify(outcome: dict | None, timed_out: bool, expect: list, returncode: int | None = 0) -> tuple:
    """``(status, reason)`` of a mutant from what its worker left: ``outcome`` (its
    outcome.json, None if none), whether it hit the time limit, the plan's expectations
    (one list per run)."""
    if timed_out:
        return "timeout", "ran past the time limit"
    if outcome is None:
        return "error", f"the worker left no outcome (exit {returncode})"
    stage = outcome.get("stage")
    if stage in ("mutate", "build"):
        return "error", f"{stage} failed: {outcome.get('message', '')}"
    if stage == "simulate":
        return "killed", f"simulation failed: {outcome.get('message', '')}"
    if stage != "done":
        return "error", f"unknown worker stage {stage!r}"
    runs = outcome.get("runs", [])
    if len(runs) != len(expect):
        return "killed", f"{len(runs)} runs recorded, {len(expect)} planned"
    for index, (steps, want) in enumerate(zip(runs, expect)):
        differences = compare_run(index, steps, want)
        if differences:
            more = f" (+{len(differences) - 1} more)" if len(differences) > 1 else ""
            return "killed", differences[0] + more
    return "survived", ""


# --- the run directory ---------------------------------------------------------------------

def write_run(run_dir: Path, verilog: Path, runs: list) -> list:
    """Save the plan's data into ``run_dir`` and ``run.json`` (what workers read: the plan and
    ``verilog``, the file of the design with selectable mutations, whose simulator build the
    workers share); returns the expectations (one list per run)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, run in enumerate(runs):
        steps = []
        for number, step in enumerate(run["steps"]):
            step = dict(step)
            if "data" in step:
                path = run_dir / f"run{index}-step{number}.npy"
                np.save(path, step.pop("data"), allow_pickle=False)
                step["data_file"] = str(path)
            steps.append(step)
        saved.append({**{k: v for k, v in run.items() if k not in ("steps", "maps")}, "steps": steps})
        if run.get("maps") is not None:
            maps_file = run_dir / f"run{index}-maps.npz"
            np.savez(maps_file, **run["maps"])
            saved[-1]["maps_file"] = str(maps_file)
    (run_dir / "run.json").write_text(json.dumps({"verilog": str(Path(verilog).resolve()), "runs": saved}))
    return [run["expect"] for run in runs]


def mutant_dir(run_dir: Path, index: int) -> Path:
    """Where mutant ``index`` works (index -1: the unmutated baseline)."""
    return Path(run_dir) / ("baseline" if index < 0 else f"m{index:04d}")


def selector_value(index: int) -> int:
    """The selector value of mutant ``index`` (index -1, the baseline: 0, the original design)."""
    return index + 1


def write_job(run_dir: Path, index: int) -> Path:
    where = mutant_dir(run_dir, index)
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    (where / "job.json").write_text(json.dumps({"select": selector_value(index)}))
    return where


def build(verilog: Path):
    """The one simulator build of the run's design with selectable mutations (cached by
    :func:`tb.build.build_design`: workers that call it again get the same build)."""
    return build_design(BLOCK, load_preset(PRESET), "verilator", verilog_text=Path(verilog).read_text())


def work(run_dir: Path, index: int) -> dict:
    """One mutant, in the worker process: run the plan on the run's shared build with the
    selector at the mutant's value; writes and returns the outcome (``stage``: where it
    stopped, ``done`` if it ran to the end)."""
    from .accelerator_sim import first_mismatch, simulate
    run_dir = Path(run_dir)
    where = mutant_dir(run_dir, index)
    run = json.loads((run_dir / "run.json").read_text())
    job = json.loads((where / "job.json").read_text())
    spec = load_preset(PRESET)
    times: dict = {}

    def finish(outcome: dict) -> dict:
        outcome["seconds"] = times
        (where / "outcome.json").write_text(json.dumps(outcome))
        return outcome

    text = Path(run["verilog"]).read_text()
    start = time.monotonic()
    design = build_design(BLOCK, spec, "verilator", verilog_text=text)
    if not design.cached:   # the run builds it before any worker starts
        print(f"warning: the shared build was not in the cache; built it in {design.build_seconds:.0f} s")
    times["build"] = round(time.monotonic() - start, 2)
    runs = []
    start = time.monotonic()
    for number, planned in enumerate(run["runs"]):
        steps = [{**{k: v for k, v in step.items() if k != "data_file"},
                  **({"data": np.load(step["data_file"], allow_pickle=False)} if "data_file" in step else {})}
                 for step in planned["steps"]]
        try:
            results = simulate(spec, steps, where / f"run{number}", gaps=planned["gaps"],
                               backpressure=planned["backpressure"], verilog_text=text,
                               mutant_select=job["select"], monitor="maps_file" in planned,
                               image_pause=planned.get("image_pause"))
        except Exception as exc:  # noqa: BLE001 - a failing cocotb test, a crash: killed
            return finish({"stage": "simulate", "message": f"run {number}: {exc}"})
        runs.append(results["steps"])
        if "maps_file" in planned:
            with np.load(planned["maps_file"], allow_pickle=False) as maps:
                trace = {name: maps[name] for name in maps.files}
            runs[-1].append({"op": "maps", "mismatch": first_mismatch(spec, results["writes"], trace)})
        if classify({"stage": "done", "runs": runs}, False, [r["expect"] for r in run["runs"][:number + 1]]
                    )[0] == "killed":
            break   # killed already: the later runs cannot change the verdict
    times["simulate"] = round(time.monotonic() - start, 2)
    while len(runs) < len(run["runs"]):
        runs.append([])
    return finish({"stage": "done", "runs": runs})


def remove_build(build_dir: Path) -> None:
    """Delete the run's simulator build (and its lock file) from the build cache."""
    build_dir = Path(build_dir)
    shutil.rmtree(build_dir, ignore_errors=True)
    Path(f"{build_dir}.lock").unlink(missing_ok=True)


@dataclass
class WorkerResult:
    """What running one mutant's worker left."""

    index: int
    outcome: dict | None
    timed_out: bool
    seconds: float
    returncode: int | None = None
    extra: dict = field(default_factory=dict)


class SubprocessRunner:
    """A runner for :func:`run_all`: ``python -m tb.mutation RUN_DIR INDEX`` in a new session,
    the whole process group killed when it runs past ``timeout`` seconds (or on :meth:`cancel`)."""

    def __init__(self, run_dir: Path, timeout: float):
        self.run_dir, self.timeout = Path(run_dir), timeout
        self._live: dict = {}
        self._lock = threading.Lock()
        self._cancelled = False

    def cancel(self) -> None:
        """Kill every worker still running (their process groups) and start no more."""
        with self._lock:
            self._cancelled = True
            live = list(self._live.values())
        for process in live:
            _kill_group(process)

    def __call__(self, index: int) -> WorkerResult:
        where = mutant_dir(self.run_dir, index)
        start = time.monotonic()
        with open(where / "worker.log", "w") as log:
            with self._lock:
                if self._cancelled:
                    return WorkerResult(index, None, False, 0.0, None, {"cancelled": True})
                process = subprocess.Popen([sys.executable, "-m", "tb.mutation", str(self.run_dir), str(index)],
                                           cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
                self._live[index] = process
            timed_out = False
            try:
                process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
                process.wait()
            finally:
                with self._lock:
                    self._live.pop(index, None)
        seconds = time.monotonic() - start
        outcome_path = where / "outcome.json"
        outcome = json.loads(outcome_path.read_text()) if outcome_path.is_file() and not timed_out else None
        return WorkerResult(index, outcome, timed_out, seconds, process.returncode)


def _kill_group(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_all(indices: list, runner, jobs: int, on_done=None) -> list:
    """Run ``runner(index)`` for every index on ``jobs`` threads; ``on_done(result)`` as each
    finishes; returns the results in index order."""
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(runner, index): index for index in indices}
        try:
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if on_done is not None:
                    on_done(result)
        except BaseException:   # interrupted: stop the workers, or the pool would wait for them
            for future in futures:
                future.cancel()
            if hasattr(runner, "cancel"):
                runner.cancel()
            raise
    return [results[index] for index in indices]


def main(argv: list) -> int:
    run_dir, index = Path(argv[0]), int(argv[1])
    try:
        work(run_dir, index)
    except Exception:  # noqa: BLE001 - leave the traceback in worker.log, no outcome
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
