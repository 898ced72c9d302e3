"""One DSP48E2 as a multiply-accumulate: ``P <= (restart ? RND : P) + A * B`` through its own
(optional) M and its P register, so that synthesis counts one DSP48E2 and nothing around it.

Yosys 0.23 (``synth_xilinx -family xcup``) maps a product to a DSP48E2 but leaves the
accumulator's adder and every register of a multiply-accumulate in fabric
(``tests/test_yosys_dsp_packing.py``); an instance of the primitive with its M and P
registers and its ALU in use keeps them inside. :class:`DspMac` is that instance, or, with
``primitive`` False, the same registers written in Amaranth, which Amaranth's simulator runs.
``hw/blocks/dsp48e2_model.v`` is a Verilog model of the DSP48E2 subset the instance uses, for
simulators of the Verilog (Verilator, Icarus); it stops the simulation on any other
configuration. ``tb/test_dsp48e2.py`` runs both forms side by side on it, cycle for cycle.

The subset (UltraScale Architecture DSP Slice User Guide, UG579): A and B straight into the
multiplier (AREG = BREG = 0, INMODE = 0, no pre-adder), the M register (MREG = 1, enable
CEM) or none (MREG = 0), the P register (PREG = 1, enable CEP), OPMODE and ALUMODE
unregistered: OPMODE
selects X = Y = M (the two partial products) and either Z = P, W = 0 (accumulate) or Z = 0,
W = RND (restart from the constant RND); ALUMODE = 0 (add). RSTM and RSTP are the
domain's synchronous reset.
"""

from __future__ import annotations

import re
from pathlib import Path

from amaranth.hdl import ClockSignal, Const, Instance, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .checks import check_bool, check_int

#: The Verilog model of the subset, for simulators and lint (never for synthesis).
MODEL = Path(__file__).with_name("dsp48e2_model.v")
_INSTANCE = re.compile(r"^\s*DSP48E2\s", re.M)
#: The DSP48E2's multiplier operands (signed) and its accumulator.
A_BITS, B_BITS, P_BITS = 27, 18, 48
#: OPMODE ({W[8:7], Z[6:4], Y[3:2], X[1:0]}, UG579): X = Y = M; Z = P, W = 0 to accumulate.
OPMODE_ACCUMULATE = 0b00_010_01_01
#: Z = 0, W = RND: the product added to the constant RND, a sequence's first step.
OPMODE_RESTART = 0b10_000_01_01
#: The primitive's attributes the subset fixes (MREG and RND come from the parameters).
ATTRIBUTES = {
    "AREG": 0, "BREG": 0, "ACASCREG": 0, "BCASCREG": 0, "CREG": 0, "DREG": 0, "ADREG": 0,
    "PREG": 1, "INMODEREG": 0, "OPMODEREG": 0, "ALUMODEREG": 0, "CARRYINREG": 0,
    "CARRYINSELREG": 0, "A_INPUT": "DIRECT", "B_INPUT": "DIRECT", "AMULTSEL": "A",
    "BMULTSEL": "B", "PREADDINSEL": "A", "USE_MULT": "MULTIPLY", "USE_SIMD": "ONE48",
    "USE_PATTERN_DETECT": "NO_PATDET", "AUTORESET_PATDET": "NO_RESET",
}


def simulation_models(verilog_text: str) -> list:
    """The model files a simulator (or lint) of ``verilog_text`` needs besides it: the DSP48E2
    model where the text instantiates the primitive, else none."""
    return [MODEL] if _INSTANCE.search(verilog_text) else []


class DspMac(wiring.Component):
    """``p``: the P register. On a cycle with ``ce_m`` the M register takes ``a * b``; on a
    cycle with ``ce_p`` the P register takes ``M + RND`` when ``restart`` is set, else
    ``M + P`` (48-bit two's complement, wrapping as the DSP48E2 does). Without the M register
    (``multiply_register`` False) ``M`` is ``a * b`` of the same cycle and ``ce_m`` is unused.

    Latency: 2 cycles from ``a``, ``b`` to ``p`` (M, then P) when both enables are set; 1
    without the M register.

    Parameters
    ----------
    rnd : int
        The restart constant RND (0 .. 2**47 - 1).
    primitive : bool
        True: an instance of the DSP48E2 primitive (synthesis, and simulators of the Verilog
        with ``dsp48e2_model.v``); False: the same registers in Amaranth.
    multiply_register : bool
        Whether the product passes the M register (MREG = 1, default) or goes straight into
        the ALU (MREG = 0).

    Members
    -------
    a : In(signed(27)), b : In(signed(18))
        The multiplier's operands.
    ce_m, ce_p, restart : In(1)
        The M and P registers' enables; P's source (RND instead of P).
    p : Out(signed(48))
        The P register.
    """

    def __init__(self, *, rnd: int = 0, primitive: bool = False, multiply_register: bool = True):
        self.rnd = check_int("rnd", rnd, 0, (1 << (P_BITS - 1)) - 1)
        self.primitive = check_bool("primitive", primitive)
        self.multiply_register = check_bool("multiply_register", multiply_register)
        self.latency = 2 if multiply_register else 1
        super().__init__({
            "a": In(signed(A_BITS)), "b": In(signed(B_BITS)),
            "ce_m": In(1), "ce_p": In(1), "restart": In(1),
            "p": Out(signed(P_BITS)),
        })

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as synthesis maps the block: one, with nothing in fabric."""
        return 1

    def elaborate(self, platform):
        m = Module()
        if self.primitive:
            zero = {"C": 48, "D": 27, "ACIN": 30, "BCIN": 18, "PCIN": 48, "CARRYINSEL": 3, "ALUMODE": 4,
                    "INMODE": 5, **{name: 1 for name in (
                        "CARRYCASCIN", "MULTSIGNIN", "CARRYIN", "CEA1", "CEA2", "CEAD", "CEB1", "CEB2", "CEC",
                        "CED", "CEALUMODE", "CECARRYIN", "CECTRL", "CEINMODE", "RSTA", "RSTB", "RSTC", "RSTD",
                        "RSTALLCARRYIN", "RSTALUMODE", "RSTCTRL", "RSTINMODE")}}   # port: its width
            a_port = Signal(signed(30))    # the primitive's A port: 30 bits, the multiplier takes 27
            m.d.comb += a_port.eq(self.a)  # sign-extended here, not by the port connection
            opmode = Mux(self.restart, OPMODE_RESTART, OPMODE_ACCUMULATE)
            m.submodules.dsp = Instance(
                "DSP48E2",
                **{f"p_{name}": value for name, value in ATTRIBUTES.items()},
                p_MREG=int(self.multiply_register), p_RND=Const(self.rnd, P_BITS),
                i_CLK=ClockSignal(), i_RSTM=ResetSignal(), i_RSTP=ResetSignal(),
                i_A=a_port, i_B=self.b, i_OPMODE=opmode, i_CEM=self.ce_m, i_CEP=self.ce_p,
                **{f"i_{name}": Const(0, width) for name, width in zero.items()},
                o_P=self.p)
            return m
        product = Signal(signed(A_BITS + B_BITS))
        if self.multiply_register:
            with m.If(self.ce_m):
                m.d.sync += product.eq(self.a * self.b)
        else:
            m.d.comb += product.eq(self.a * self.b)
        with m.If(self.ce_p):
            m.d.sync += self.p.eq(Mux(self.restart, self.rnd, self.p) + product)
        return m
