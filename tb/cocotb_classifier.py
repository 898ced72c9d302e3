"""cocotb tests of the classifier alone on pool then fc (tb.classifier_harness).

Each test resets, then runs two images (two ``go`` pulses on the same RAMs: the engine must
start over cleanly). A monitor samples every cycle (read-only phase after each rising edge)
the ``result`` handshake, ``emit``, ``emitted`` and the harness's state. Checks:

- the beats taken on ``result`` per image: golden's logits (``classes`` beats, ``last`` clear,
  bit for bit), then golden's class with ``last`` set;
- ``pool_cycles`` and ``fc_cycles`` equal ``Classifier.layer_cycles(spec, entry)``;
- with the sink always ready and ``emit`` from the cycle after fc's ``done`` (as the
  sequencer), the class beat is taken on OUTPUT's ``IMAGE_STEPS``-th cycle (what the
  cycle model adds per image besides the layers and their steps);
- ``result.valid`` with ``last`` only while ``emit`` is high (the class beat never leaves
  without it); ``emitted`` high exactly on the class beat's handshake, once per image;
- ``sequencer``: sink always ready and ``emit_allow`` high (the sequencer's OUTPUT: emit from
  the cycle after fc's done); ``backpressure``: the sink pauses on random cycles (30%), and
  ``emit_allow`` stays low until 20 cycles after every logit was taken (the class beat must
  wait for it).
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from hw.engines.classifier import Classifier
from hw.engines.sequencer import IMAGE_STEPS
from rrm.spec import Spec

from .classifier_harness import classifier_case
from .streams import PERIOD_NS, StreamSink, random_pauses

IMAGES = 2
EMIT_DELAY = 20


def setup():
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    spec = Spec.from_dict(config["spec"])
    return spec, config, classifier_case(spec, config["seed"])


async def reset(dut):
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.go.value = 0
    dut.emit_allow.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def run_images(dut, mode: str):
    spec, config, case = setup()
    classes = spec.network.num_classes
    want_pool = Classifier.layer_cycles(spec, case.pool)
    want_fc = Classifier.layer_cycles(spec, case.fc)
    await reset(dut)
    layout = Classifier(spec).result.signature.members["payload"].shape
    sink = StreamSink(dut, "result", layout, random_pauses(11) if mode == "backpressure" else None)

    # the monitor: every cycle's handshake, emit, emitted (edge numbers from here on)
    log = {"beats": [], "emitted": [], "class_while_no_emit": [], "edge": 0}
    stop = False

    async def monitor():
        while not stop:
            await ReadOnly()
            valid, ready = int(dut.result__valid.value), int(dut.result__ready.value)
            payload = int(dut.result__payload.value)
            last = payload >> (len(dut.result__payload) - 1)
            emit, emitted = int(dut.emit.value), int(dut.emitted.value)
            if valid and last and not emit:
                log["class_while_no_emit"].append(log["edge"])
            if valid and ready:
                log["beats"].append((log["edge"], last, emitted))
            if emitted:
                log["emitted"].append((log["edge"], valid and ready and last))
            await RisingEdge(dut.clk)
            log["edge"] += 1

    cocotb.start_soon(monitor())
    figures = []
    for image in range(IMAGES):
        dut.go.value = 1
        await RisingEdge(dut.clk)
        dut.go.value = 0
        taken_before = len(sink.values)
        if mode == "sequencer":
            dut.emit_allow.value = 1
        else:
            dut.emit_allow.value = 0
            # all logits taken, then EMIT_DELAY more cycles before emit
            await sink.wait_for(taken_before + classes, 50 * (want_pool + want_fc) + 1000)
            for _ in range(EMIT_DELAY):
                await RisingEdge(dut.clk)
            await ReadOnly()
            assert int(dut.busy.value), "the harness left OUTPUT without emit"
            assert len(sink.values) == taken_before + classes, "a beat after the logits before emit"
            await RisingEdge(dut.clk)
            dut.emit_allow.value = 1
        await sink.wait_for(taken_before + classes + 1, 50 * (want_pool + want_fc) + 1000)
        for _ in range(3):
            await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.images.value) == image + 1, f"image {image}: {int(dut.images.value)} class beats counted"
        assert not int(dut.busy.value), f"image {image}: the harness is still busy after the class beat"
        got = sink.values[taken_before:taken_before + classes + 1]
        pool_cycles, fc_cycles = int(dut.pool_cycles.value), int(dut.fc_cycles.value)
        output_cycles = int(dut.output_cycles.value)
        figures.append({"pool_cycles": pool_cycles, "fc_cycles": fc_cycles, "output_cycles": output_cycles})
        await RisingEdge(dut.clk)
        dut.emit_allow.value = 0

        logits = [beat["data"] for beat in got[:classes]]
        lasts = [beat["last"] for beat in got]
        assert lasts == [0] * classes + [1], f"image {image}: last flags {lasts}"
        want = [int(v) for v in case.logits]
        for k, (value, golden) in enumerate(zip(logits, want)):
            assert value == golden, f"image {image}: logit {k}: RTL {value}, golden {golden}"
        assert got[classes]["data"] == case.cls, f"image {image}: class {got[classes]['data']}, golden {case.cls}"
        assert pool_cycles == want_pool, f"image {image}: pool took {pool_cycles} cycles, layer_cycles {want_pool}"
        assert fc_cycles == want_fc, f"image {image}: fc took {fc_cycles} cycles, layer_cycles {want_fc}"
        if mode == "sequencer":
            # the sequencer's image_cycles counts OUTPUT's cycles (tb.cocotb_sequencer); the
            # cycle model adds IMAGE_STEPS for them
            assert output_cycles == IMAGE_STEPS, \
                f"image {image}: the class beat on OUTPUT's cycle {output_cycles}, IMAGE_STEPS {IMAGE_STEPS}"
    stop = True
    await RisingEdge(dut.clk)

    assert not log["class_while_no_emit"], f"class beat valid without emit on edges {log['class_while_no_emit'][:5]}"
    class_edges = [edge for edge, last, _ in log["beats"] if last]
    assert len(class_edges) == IMAGES, f"{len(class_edges)} class beats for {IMAGES} images"
    assert [edge for edge, _ in log["emitted"]] == class_edges, \
        f"emitted on edges {log['emitted']}, class beats on {class_edges}"
    assert all(on_beat for _, on_beat in log["emitted"])
    assert all(emitted == last for _, last, emitted in log["beats"]), "emitted on a logit beat"
    dut._log.info("%s: logits %s class %d; %s; layer_cycles pool %d fc %d", mode, list(case.logits), case.cls,
                  figures, want_pool, want_fc)
    with open(f"result_{mode}.json", "w") as out:
        json.dump({"mode": mode, "figures": figures, "pool_layer_cycles": want_pool, "fc_layer_cycles": want_fc,
                   "class_edges": class_edges}, out)


@cocotb.test()
async def sequencer_like(dut):
    await run_images(dut, "sequencer")


@cocotb.test()
async def backpressure_late_emit(dut):
    await run_images(dut, "backpressure")
