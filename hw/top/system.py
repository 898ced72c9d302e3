"""The accelerator as a ZCU102 system's IP: the core, the register block and the interrupt
(docs/host.md, paper Fig. 2).

:class:`AcceleratorSystem` wraps :class:`hw.top.accelerator.AcceleratorCore` with
:class:`hw.top.csr.CsrBlock` behind the port names Vivado's IP packager infers as
interfaces: ``aclk``, ``aresetn``; AXI4-Stream ``s_axis_*`` (image), ``s_axis_param_*``
(parameters), ``m_axis_*`` (results); AXI4-Lite ``s_axi_ctrl_*`` (the registers of
:mod:`rrm.csr_map`); ``irq`` (level, active high).

The core runs in its own clock domain on ``aclk`` whose reset is ``aresetn`` low or the
register block's soft reset; while the soft reset holds, the three streams are stalled
(``tready``/``tvalid`` low), so no beat is lost or half-taken. The parameter stream's beats
are :data:`SYSTEM_PARAM_BEAT_BITS` (128) wide, the width of the PS's HP port. The register block is
reset only by ``aresetn``. A reset keeps loaded parameters (the core's ``params_loaded``
is reset-less).

Latency and throughput: the core's (``image_cycles`` per image); registers as
:class:`hw.top.csr.CsrBlock`.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, DomainRenamer, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rrm.spec import Spec

from .accelerator import AcceleratorCore
from .csr import AXI_LITE_PORTS, CsrBlock, axi_lite_members

#: The parameter stream's beat width: the PS's HP port (a 32-bit stream takes 534,389 cycles to
#: load rr-mobilenet-max, a 128-bit one 133,649: rrm.param_stream.stream_length).
SYSTEM_PARAM_BEAT_BITS = 128
#: The AXI4-Lite port prefix (``s_axi_ctrl_awaddr`` ...).
CTRL_PREFIX = "s_axi_ctrl_"
#: The AXI4-Stream ports: (prefix, core member, direction of tdata).
STREAMS = (("s_axis", "image", In), ("s_axis_param", "param", In), ("m_axis", "result", Out))


class AcceleratorSystem(wiring.Component):
    """Members: ``aclk``, ``aresetn``; ``<prefix>_tdata/tvalid/tready/tlast`` for the streams of
    :data:`STREAMS` and ``m_axis_tkeep`` (all ones); the AXI4-Lite slave ``s_axi_ctrl_*``; ``irq``."""

    def __init__(self, spec: Spec, *, param_beat_bits: int = SYSTEM_PARAM_BEAT_BITS):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        self.core = core = AcceleratorCore(spec, param_beat_bits=param_beat_bits)
        result_width = len(core.result.payload.data)
        self.csr = CsrBlock(spec_hash=core.mmap.spec_hash, input_size=spec.network.input_size,
                            input_channels=spec.network.input_channels, result_bytes=result_width // 8,
                            classes=spec.network.num_classes, layers=core.layer_count,
                            param_beat_bytes=param_beat_bits // 8)
        members = {"aclk": In(1), "aresetn": In(1)}
        for prefix, name, direction in STREAMS:
            port = getattr(core, name)
            members[f"{prefix}_tdata"] = direction(len(port.payload.data))
            members[f"{prefix}_tvalid"] = direction(1)
            members[f"{prefix}_tready"] = (Out if direction is In else In)(1)
            members[f"{prefix}_tlast"] = direction(1)
        # all bytes of every result beat are valid (AXI DMA's S2MM channel takes tkeep)
        members["m_axis_tkeep"] = Out(len(core.result.payload.data) // 8)
        members.update(axi_lite_members(CTRL_PREFIX))
        members["irq"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.domains.core = core_domain = ClockDomain("core")
        m.submodules.csr = csr = self.csr
        m.submodules.core = core = DomainRenamer("core")(self.core)
        m.d.comb += [sync.clk.eq(self.aclk), sync.rst.eq(~self.aresetn),
                     core_domain.clk.eq(self.aclk), core_domain.rst.eq(~self.aresetn | csr.core_reset)]
        run = ~csr.core_reset
        for prefix, name, direction in STREAMS:
            port = getattr(self.core, name)
            if direction is In:
                m.d.comb += [port.payload.data.eq(getattr(self, f"{prefix}_tdata")),
                             port.payload.last.eq(getattr(self, f"{prefix}_tlast")),
                             port.valid.eq(getattr(self, f"{prefix}_tvalid") & run),
                             getattr(self, f"{prefix}_tready").eq(port.ready & run)]
            else:
                m.d.comb += [getattr(self, f"{prefix}_tdata").eq(port.payload.data),
                             getattr(self, f"{prefix}_tlast").eq(port.payload.last),
                             getattr(self, f"{prefix}_tvalid").eq(port.valid & run),
                             port.ready.eq(getattr(self, f"{prefix}_tready") & run)]
        for name, direction, _width in AXI_LITE_PORTS:
            if direction is In:
                m.d.comb += getattr(csr, name).eq(getattr(self, CTRL_PREFIX + name))
            else:
                m.d.comb += getattr(self, CTRL_PREFIX + name).eq(getattr(csr, name))
        result = self.core.result
        m.d.comb += [
            csr.busy.eq(self.core.busy), csr.params_loaded.eq(self.core.params_loaded),
            csr.param_error.eq(self.core.param_error), csr.image_error.eq(self.core.image_error),
            csr.image_cycles.eq(self.core.image_cycles), csr.layer_cycles.eq(self.core.layer_cycles),
            csr.image_done.eq(result.valid & result.ready & result.payload.last & run),
            self.irq.eq(csr.irq),
            self.m_axis_tkeep.eq(-1),
        ]
        return m
