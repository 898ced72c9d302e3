"""``rrm verilog``: block list, errors, and every block's Verilog lint-clean under the documented waivers."""

import pytest

from hw.blocks import BLOCKS
from rrm.cli import main
from scripts.verilog_gen import LINT_WAIVERS, lint_command


def test_list_blocks_prints_one_name_per_line(capsys):
    assert main(["verilog", "--list-blocks"]) == 0
    assert capsys.readouterr().out.split() == list(BLOCKS)


def test_unknown_block_is_a_user_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["verilog", "--block", "no_such_block", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "no_such_block" in capsys.readouterr().err


def test_lint_uses_only_documented_waivers(tmp_path):
    waived = [arg[len("-Wno-"):] for arg in lint_command(tmp_path / "x.v", "top") if arg.startswith("-Wno-")]
    assert waived and set(waived) == set(LINT_WAIVERS)
    assert all(len(reason) > 20 for reason in LINT_WAIVERS.values())


@pytest.mark.filterwarnings("error")  # no deprecated Amaranth API anywhere in hw/
@pytest.mark.parametrize("block", list(BLOCKS))
def test_block_verilog_lints_clean(block, tmp_path, capsys):
    assert main(["verilog", "--block", block, "--preset", "tiny", "--out", str(tmp_path), "--lint"]) == 0
    text = (tmp_path / f"{block}.v").read_text()
    assert f"module rrm_{block}(" in text.replace(" (", "(")
    assert "lint clean" in capsys.readouterr().out


def test_lint_reports_a_warning_that_is_not_waived(tmp_path):
    from rrm.errors import UserError
    from scripts.verilog_gen import lint
    path = tmp_path / "latch.v"
    path.write_text("module latch(input a, input b, output reg y);\n"
                    "  always @* if (a) y = b;\nendmodule\n")
    with pytest.raises(UserError, match="lint"):
        lint(path, "latch")
