"""The parameter loader alone, writing the parameter RAMs, each RAM readable by the testbench.

:class:`ParamLoaderHarness` holds a :class:`hw.engines.param_loader.ParamLoader` and the
parameter RAMs of :attr:`rrm.memory_map.MemoryMap.param_rams` (uninitialised, as in the
accelerator built without ``preloaded``), each written by the loader's port of its name.
Every RAM has a second, read port that the testbench drives: ``rd_<name>_addr`` In,
``rd_<name>_data`` Out (the word's bits; a synchronous read, data the cycle after the
address). The loader's ``param`` stream, ``busy``, ``loaded``, ``error`` and ``idle`` are
the harness's ports under the same names.

The image loader needs no harness: its catalog block (``image_loader``) has only plain ports.
"""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from hw.engines.interfaces import ram_shapes
from hw.engines.param_loader import ParamLoader
from hw.flow.verilog import module_name
from rrm.sizing import sizing
from rrm.spec import Spec


class ParamLoaderHarness(wiring.Component):
    """The parameter loader and its RAMs (see the module docstring)."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.loader = ParamLoader(spec)
        self.shapes = ram_shapes(spec)
        self.regions = sizing(spec).memories.param_rams
        members = {
            "param": In(self.loader.param.signature.flip()),
            "busy": In(1),
            "loaded": Out(1),
            "error": Out(1),
            "idle": Out(1),
        }
        for region in self.regions:
            members[f"rd_{region.name}_addr"] = In(range(region.depth))
            members[f"rd_{region.name}_data"] = Out(region.width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        loader = self.loader
        m.submodules.loader = loader
        connect(m, wiring.flipped(self.param), loader.param)
        m.d.comb += [loader.busy.eq(self.busy), self.loaded.eq(loader.loaded), self.error.eq(loader.error),
                     self.idle.eq(loader.idle)]
        for region in self.regions:
            memory = Memory(shape=self.shapes.shape(region.name), depth=self.shapes.depth[region.name], init=[])
            m.submodules[f"ram_{region.name}"] = memory
            connect(m, getattr(loader, region.name), memory.write_port())
            read = memory.read_port()
            m.d.comb += [read.addr.eq(getattr(self, f"rd_{region.name}_addr")),
                         getattr(self, f"rd_{region.name}_data").eq(read.data)]
        return m


def param_loader_block() -> str:
    return "param_loader_harness"


def param_loader_verilog(spec: Spec, block: str) -> str:
    return verilog.convert(ParamLoaderHarness(spec), name=module_name(block), emit_src=False)
