"""cocotb test of the sequencer alone (tb.sequencer_harness), cocotb playing every engine,
the loaders and the classifier's ``emitted``.

Every cycle, at the falling clock edge, the testbench reads the sequencer's state-driven
outputs (``start``, ``run``, the row, ``emit``...), drives its inputs for that cycle, then
samples everything in the read-only phase. Each engine model counts the RUN cycles since
its ``start``; the engine whose kinds (:data:`tb.sequencer_harness.ENGINE_KINDS`) hold the
layer's kind raises ``done`` from RUN cycle ``n[layer]`` on (chosen at random per layer);
the other engines hold ``done`` HIGH during every RUN cycle (the sequencer must not listen to
them) and random outside. Three images:

- ``A``: n in 1..40, ``inputting`` high for 2 cycles after ``begin``, ``emitted`` on the first
  OUTPUT cycle;
- ``B``: other n, ``inputting`` held until RUN cycle n[0] + 12 of conv1 (conv1's count is then
  n[0] + 12), ``emitted`` on the 6th OUTPUT cycle;
- ``C``: n = 1 everywhere; before it, ``params_loaded`` low for 20 cycles, then ``loader_idle``
  low for 10: no ``begin`` while either is low.

Checks: ``layer_cycles`` = the chosen counts; per layer a START cycle right before its RUN
cycles and exactly len(LAYER_STEPS) - 1 cycles with neither between one layer's last RUN
cycle and the next START (and between ``begin`` and the first START); during START/RUN every
engine's row is the layer's (kind, bn_index), ``layer_index`` the layer, the shift (RUN) the
shift RAM's word; ``busy`` (and every control's ``busy``) from the cycle after ``begin`` to
the class beat; ``emit`` only in OUTPUT; which engines see ``start``/``run`` is recorded.
``image_cycles`` = the busy cycles (FETCH of conv1 to the class beat, inclusive; IDLE's cycle
with ``begin`` not counted) = sum(layer_cycles) + len(LAYER_STEPS) * layers + OUTPUT's cycles
(1 when ``emitted`` comes at once). Every engine sees every layer's ``start`` and ``run``
(the sequencer broadcasts them; an engine filters on the row's kind), and a ``done`` from an
engine not of the layer's kind is ignored (result.json has every figure).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw.engines.sequencer import IMAGE_STEPS, LAYER_STEPS
from rrm.sizing import sizing
from rrm.spec import Spec

from .sequencer_harness import ENGINE_KINDS, shift_words
from .streams import PERIOD_NS, current_cycle


class Bench:
    def __init__(self, dut, spec, seed):
        self.dut, self.spec = dut, spec
        self.layers = sizing(spec).memories.layers
        self.rng = random.Random(seed)
        self.k = {name: 0 for name in ENGINE_KINDS}
        self.n = [1] * len(self.layers)
        self.inputs = {"image_valid": 0, "params_loaded": 0, "loader_idle": 0}
        self.input_until = None      # ("cycles", c) or ("run", m): when inputting drops
        self.inputting = 0
        self.emit_delay = 0
        self.emit_seen = 0
        self.begin_seen = None
        self.trace = []

    async def run(self):
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            cycle = current_cycle()
            state = {name: {"start": int(getattr(dut, f"{name}_start").value),
                            "run": int(getattr(dut, f"{name}_run").value)} for name in ENGINE_KINDS}
            kind = int(dut.conv_kind.value)
            layer = int(dut.layer_index.value)
            emit = int(dut.emit.value)
            done = {}
            for name, kinds in ENGINE_KINDS.items():
                if state[name]["start"]:
                    self.k[name] = 0
                elif state[name]["run"]:
                    self.k[name] += 1
                if state[name]["run"]:
                    if kind in [int(k) for k in kinds]:
                        done[name] = int(self.k[name] >= self.n[layer])
                    else:
                        done[name] = 1
                else:
                    done[name] = self.rng.randint(0, 1)
                getattr(dut, f"{name}_done").value = done[name]
            # inputting: from the cycle after begin until the plan says
            if self.inputting and self.input_until is not None:
                how, value = self.input_until
                if (how == "cycles" and cycle >= self.begin_seen + value) or \
                        (how == "run" and layer == 0 and state["conv"]["run"] and self.k["conv"] >= value):
                    self.inputting = 0
            dut.inputting.value = self.inputting
            for name, value in self.inputs.items():
                getattr(dut, name).value = value
            emitted = 0
            if emit:
                self.emit_seen += 1
                emitted = int(self.emit_seen == self.emit_delay + 1)
            else:
                self.emit_seen = 0
            dut.emitted.value = emitted
            await ReadOnly()
            record = {"cycle": cycle, "layer": int(dut.layer_index.value), "begin": int(dut.begin_image.value),
                      "busy": int(dut.busy.value), "emit": int(dut.emit.value), "emitted": emitted,
                      "inputting": self.inputting, "done": done}
            for name in ENGINE_KINDS:
                record[name] = {"start": int(getattr(dut, f"{name}_start").value),
                                "run": int(getattr(dut, f"{name}_run").value),
                                "busy": int(getattr(dut, f"{name}_busy").value),
                                "kind": int(getattr(dut, f"{name}_kind").value),
                                "bn_index": int(getattr(dut, f"{name}_bn_index").value),
                                "shift": int(getattr(dut, f"{name}_shift").value)}
            if record["begin"]:
                self.begin_seen = cycle
                self.inputting = 1 if self.input_until is not None else 0
            self.trace.append(record)


def check_image(bench, name, trace, n, shifts):
    """The checks of the module docstring on one image's records (begin cycle .. class beat)."""
    layers = bench.layers
    L = len(layers)
    assert trace[0]["begin"], f"{name}: the trace does not start on begin"
    assert trace[-1]["emitted"], f"{name}: the trace does not end on the class beat"
    begin, beat = trace[0]["cycle"], trace[-1]["cycle"]
    starts = [r["cycle"] for r in trace if r["conv"]["start"]]
    runs = [[r["cycle"] for r in trace if r["conv"]["run"] and r["layer"] == i] for i in range(L)]
    assert len(starts) == L, f"{name}: {len(starts)} START cycles for {L} layers"
    gaps = []
    previous_end = begin
    for i in range(L):
        cycles = runs[i]
        assert cycles == list(range(starts[i] + 1, starts[i] + 1 + len(cycles))), f"{name}: layer {i}: RUN not right after START"
        gaps.append(starts[i] - previous_end - 1)
        previous_end = cycles[-1]
    assert all(g == len(LAYER_STEPS) - 1 for g in gaps), f"{name}: cycles between layers {gaps}"
    for r in trace:
        in_layer = r["conv"]["start"] or r["conv"]["run"]
        for engine in ENGINE_KINDS:
            assert r[engine]["start"] == r["conv"]["start"] and r[engine]["run"] == r["conv"]["run"]
            assert r[engine]["busy"] == r["busy"]
            if in_layer:
                entry = layers[r["layer"]]
                assert r[engine]["kind"] == int(entry.kind_code), f"{name}: cycle {r['cycle']}: kind"
                assert r[engine]["bn_index"] == entry.bn_index, f"{name}: cycle {r['cycle']}: bn_index"
                if r["conv"]["run"]:
                    assert r[engine]["shift"] == shifts[entry.bn_index], \
                        f"{name}: layer {entry.name}: shift {r[engine]['shift']}, RAM {shifts[entry.bn_index]}"
        assert r["busy"] == (r["cycle"] != begin), f"{name}: busy {r['busy']} on cycle {r['cycle']} (begin {begin})"
    emits = [r["cycle"] for r in trace if r["emit"]]
    assert emits == list(range(runs[-1][-1] + 1, beat + 1)), f"{name}: emit on {emits}"
    # which engines see start (every engine sees every start, as recorded)
    seen = {engine: sorted({layers[r["layer"]].kind for r in trace if r[engine]["start"]}) for engine in ENGINE_KINDS}
    return {"begin": begin, "class_beat": beat, "gaps": sorted(set(gaps)), "start_kinds_seen": seen,
            "run_cycles": [len(c) for c in runs], "output_cycles": len(emits)}


@cocotb.test()
async def three_images(dut):
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    spec = Spec.from_dict(config["spec"])
    shifts = shift_words(spec, config["seed"])
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    for name in ("image_valid", "params_loaded", "loader_idle", "inputting", "emitted"):
        getattr(dut, name).value = 0
    for engine in ENGINE_KINDS:
        getattr(dut, f"{engine}_done").value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    bench = Bench(dut, spec, config["seed"])
    L = len(bench.layers)
    cocotb.start_soon(bench.run())
    rng = random.Random(config["seed"] + 10)
    plans = {
        "A": {"n": [rng.randint(1, 40) for _ in range(L)], "input": ("cycles", 2), "emit_delay": 0},
        "B": {"n": [rng.randint(1, 40) for _ in range(L)], "input": ("run", None), "emit_delay": 5},
        "C": {"n": [1] * L, "input": ("cycles", 2), "emit_delay": 0, "gated": True},
    }
    results = {}
    for name, plan in plans.items():
        n = plan["n"]
        bench.n = n
        how, value = plan["input"]
        bench.input_until = (how, n[0] + 12 if how == "run" else value)
        bench.emit_delay = plan["emit_delay"]
        if plan.get("gated"):
            bench.inputs = {"image_valid": 1, "params_loaded": 0, "loader_idle": 1}
            for _ in range(20):
                await RisingEdge(dut.clk)
            bench.inputs = {"image_valid": 1, "params_loaded": 1, "loader_idle": 0}
            for _ in range(10):
                await RisingEdge(dut.clk)
            assert not any(r["begin"] or r["busy"] for r in bench.trace[-30:]), f"{name}: began while gated"
        first = len(bench.trace)
        bench.inputs = {"image_valid": 1, "params_loaded": 1, "loader_idle": 1}
        for _ in range(100000):
            await RisingEdge(dut.clk)
            if any(r["emitted"] for r in bench.trace[first:]):
                break
        bench.inputs = {"image_valid": 0, "params_loaded": 1, "loader_idle": 1}
        for _ in range(3):
            await RisingEdge(dut.clk)
        await ReadOnly()
        flat = int(dut.layer_cycles.value)
        layer_cycles = [(flat >> (32 * i)) & 0xFFFFFFFF for i in range(L)]
        image_cycles = int(dut.image_cycles.value)
        trace = bench.trace[first:]
        b = next(i for i, r in enumerate(trace) if r["begin"])
        e = next(i for i, r in enumerate(trace) if r["emitted"])
        figures = check_image(bench, name, trace[b:e + 1], n, shifts)
        want = list(n)
        if how == "run":
            want[0] = n[0] + 12
        assert layer_cycles == want, f"{name}: layer_cycles {layer_cycles}, chosen {want}"
        model = sum(want) + len(LAYER_STEPS) * L + IMAGE_STEPS
        figures.update({"layer_cycles_sum": sum(layer_cycles), "image_cycles": image_cycles,
                        "begin_to_beat_inclusive": figures["class_beat"] - figures["begin"] + 1,
                        "model_sum_plus_steps": model, "emit_delay": plan["emit_delay"]})
        results[name] = figures
        dut._log.info("%s: %s", name, figures)
    with open("result.json", "w") as out:
        json.dump(results, out, indent=1)
    for name, figures in results.items():
        # image_cycles counts the busy cycles: from FETCH of the first layer (the cycle after
        # IDLE's begin) to the class beat, inclusive; IDLE's cycle is not counted, so with the
        # class beat on OUTPUT's k-th cycle it is sum(layer_cycles) + len(LAYER_STEPS) * layers + k
        assert figures["image_cycles"] == figures["begin_to_beat_inclusive"] - 1, name
        assert figures["image_cycles"] == (figures["layer_cycles_sum"] + len(LAYER_STEPS) * L
                                           + figures["output_cycles"]), name
