// Simulation model of the DSP48E2 subset that hw/blocks/dsp48e2.py instantiates, for
// simulators of the project's Verilog (Verilator, Icarus). Synthesis uses the primitive
// itself: never give this file to Yosys or Vivado.
//
// The subset (UG579): A[26:0] x B into the M register (MREG = 1, CEM, RSTM) or straight
// into the ALU (MREG = 0), the P register
// (PREG = 1, CEP, RSTP) taking W + Z + M with OPMODE unregistered: X = Y = M (OPMODE[3:0]
// = 0101), Z = P (OPMODE[6:4] = 010) or 0 (000), W = 0 (OPMODE[8:7] = 00) or RND (10);
// ALUMODE 0 (add), INMODE 0, no carry in. Any other attribute or control value stops the
// simulation with a message naming it, so a change outside the subset cannot pass unseen.
module DSP48E2 #(
    parameter integer AREG = 1, parameter integer BREG = 1, parameter integer ACASCREG = 1,
    parameter integer BCASCREG = 1, parameter integer CREG = 1, parameter integer DREG = 1,
    parameter integer ADREG = 1, parameter integer MREG = 1, parameter integer PREG = 1,
    parameter integer INMODEREG = 1, parameter integer OPMODEREG = 1, parameter integer ALUMODEREG = 1,
    parameter integer CARRYINREG = 1, parameter integer CARRYINSELREG = 1,
    parameter A_INPUT = "DIRECT", parameter B_INPUT = "DIRECT", parameter AMULTSEL = "A",
    parameter BMULTSEL = "B", parameter PREADDINSEL = "A", parameter USE_MULT = "MULTIPLY",
    parameter USE_SIMD = "ONE48", parameter USE_PATTERN_DETECT = "NO_PATDET",
    parameter AUTORESET_PATDET = "NO_RESET", parameter [47:0] RND = 48'h0
) (
    input CLK,
    input [29:0] A, input [17:0] B, input [47:0] C, input [26:0] D,
    input [29:0] ACIN, input [17:0] BCIN, input [47:0] PCIN,
    input CARRYCASCIN, input MULTSIGNIN, input CARRYIN, input [2:0] CARRYINSEL,
    input [3:0] ALUMODE, input [4:0] INMODE, input [8:0] OPMODE,
    input CEA1, input CEA2, input CEAD, input CEB1, input CEB2, input CEC, input CED,
    input CEM, input CEP, input CEALUMODE, input CECARRYIN, input CECTRL, input CEINMODE,
    input RSTA, input RSTB, input RSTC, input RSTD, input RSTM, input RSTP,
    input RSTALLCARRYIN, input RSTALUMODE, input RSTCTRL, input RSTINMODE,
    output [47:0] P
);
    initial begin
        if (AREG != 0 || BREG != 0 || ACASCREG != 0 || BCASCREG != 0 || CREG != 0 || DREG != 0
                || ADREG != 0 || (MREG != 0 && MREG != 1) || PREG != 1 || INMODEREG != 0 || OPMODEREG != 0
                || ALUMODEREG != 0 || CARRYINREG != 0 || CARRYINSELREG != 0) begin
            $display("DSP48E2 model %m: a register attribute outside the modelled subset (MREG 0 or 1, PREG = 1, the others 0)");
            $finish;
        end
        if (A_INPUT != "DIRECT" || B_INPUT != "DIRECT" || AMULTSEL != "A" || BMULTSEL != "B"
                || PREADDINSEL != "A" || USE_MULT != "MULTIPLY" || USE_SIMD != "ONE48"
                || USE_PATTERN_DETECT != "NO_PATDET" || AUTORESET_PATDET != "NO_RESET") begin
            $display("DSP48E2 model %m: a datapath attribute outside the modelled subset");
            $finish;
        end
    end

    wire signed [26:0] a_mul = A[26:0];
    wire signed [17:0] b_mul = B;
    reg signed [44:0] m_reg = 45'sd0;
    reg [47:0] p_reg = 48'd0;
    wire signed [44:0] product = a_mul * b_mul;
    wire signed [44:0] m_out = MREG ? m_reg : product;
    wire [47:0] m_wide = {{3{m_out[44]}}, m_out};
    wire [47:0] w_mux = OPMODE[8:7] == 2'b10 ? RND : 48'd0;
    wire [47:0] z_mux = OPMODE[6:4] == 3'b010 ? p_reg : 48'd0;

    always @(posedge CLK) begin
        if (CEP && !RSTP && ((OPMODE != 9'b00_010_01_01 && OPMODE != 9'b10_000_01_01)
                || ALUMODE != 4'd0 || INMODE != 5'd0 || CARRYIN || CARRYINSEL != 3'd0)) begin
            $display("DSP48E2 model %m: OPMODE %b / ALUMODE %b / INMODE %b outside the modelled subset",
                     OPMODE, ALUMODE, INMODE);
            $finish;
        end
        if (RSTM) m_reg <= 45'sd0;
        else if (CEM) m_reg <= product;
        if (RSTP) p_reg <= 48'd0;
        else if (CEP) p_reg <= w_mux + z_mux + m_wide;
    end
    assign P = p_reg;
endmodule
