"""Stream primitives: the skid buffer and the RAM join in RTL under gaps and backpressure, and the
RAM join on a caller-owned RAM in Amaranth's simulator."""

import dataclasses

import pytest

from .specs import tiny


@pytest.mark.parametrize("lanes", [8, 1])
def test_skid_buffer(run_block, lanes):
    """A skid buffer of the Conv PE's input beat (8 lanes: 75 bits; 1 lane: 17 bits)."""
    run_block("skid_buffer", tiny(lanes=lanes), "tb.cocotb_skid_buffer")


def test_ram_join_rgb(run_block):
    """conv1's weight RAM for a 3-channel image: 27 words of 8 weights (not a power of two)."""
    spec = tiny()
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, input_channels=3))
    run_block("ram_join", spec, "tb.cocotb_ram_join")


def test_ram_join_on_a_ram_the_caller_owns():
    """In Amaranth's simulator: an owner with its own Memory and write port gives the join a
    read port; after a write, requests under random gaps and backpressure read the new word."""
    import random

    from amaranth.hdl import Module, unsigned
    from amaranth.lib import wiring
    from amaranth.lib.memory import Memory
    from amaranth.sim import Simulator

    from hw.blocks.ram_join import RamJoin

    class Owner(wiring.Component):
        def __init__(self):
            self.memory = Memory(shape=unsigned(8), depth=12, init=[3 * a + 1 for a in range(12)])
            self.write = self.memory.write_port()
            self.join = RamJoin(self.memory.read_port(), tag_shape=unsigned(6))
            super().__init__({})

        def elaborate(self, platform):
            m = Module()
            m.submodules.memory, m.submodules.join = self.memory, self.join
            return m

    dut = Owner()
    join = dut.join
    rng = random.Random(3)
    requests = [(rng.randrange(12), tag) for tag in range(60)]
    model = [3 * a + 1 for a in range(12)]
    model[5] = 200
    got = []

    async def bench(ctx):
        ctx.set(dut.write.addr, 5)
        ctx.set(dut.write.data, 200)
        ctx.set(dut.write.en, 1)
        await ctx.tick()
        ctx.set(dut.write.en, 0)
        pending = list(requests)
        for _ in range(1000):
            if len(got) == len(requests):
                break
            offer = bool(pending) and rng.random() < 0.7
            ctx.set(join.i.valid, offer)
            if offer:
                ctx.set(join.i.payload, {"addr": pending[0][0], "tag": pending[0][1]})
            ctx.set(join.o.ready, rng.random() < 0.7)
            if ctx.get(join.o.valid) and ctx.get(join.o.ready):
                payload = ctx.get(join.o.payload)
                got.append((payload.data, payload.tag))
            if offer and ctx.get(join.i.ready):
                pending.pop(0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [(model[addr], tag) for addr, tag in requests]
