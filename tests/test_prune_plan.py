"""Pruning orders and fine-grained targets (rrm/prune_plan.py)."""

from fractions import Fraction

import pytest

from rrm.presets import load_preset
from rrm.prune_plan import (count_at, fine_targets, peak_targets, progress, ranked, stages, uniform_targets)
from rrm.spec import unpruned
from rrm.weight_layers import prunable_sizes, spec_weight_layers

SIZES = {"a": 100, "b": 400, "c": 50, "d": 400, "fc": 30}


def test_orders_rank_the_layers():
    assert ranked(SIZES, "forward") == ["a", "b", "c", "d", "fc"]
    assert ranked(SIZES, "all") == ["a", "b", "c", "d", "fc"]
    assert ranked(SIZES, "reversed") == ["fc", "d", "c", "b", "a"]       # the FC first
    assert ranked(SIZES, "peak") == ["b", "d", "a", "c", "fc"]           # largest first, ties input to output


def test_stages_cut_the_ranking_into_contiguous_groups():
    assert stages(SIZES, "forward", 2) == {"a": 1, "b": 1, "c": 1, "d": 2, "fc": 2}
    assert stages(SIZES, "reversed", 2) == {"fc": 1, "d": 1, "c": 1, "b": 2, "a": 2}
    assert stages(SIZES, "peak", 3) == {"b": 1, "d": 1, "a": 2, "c": 2, "fc": 3}
    assert stages(SIZES, "all", 3) == {name: 3 for name in SIZES}
    assert set(stages(SIZES, "forward", 1).values()) == {1}             # one step: the orders coincide
    assert sorted(stages({"x": 5, "y": 6}, "forward", 4).values()) == [1, 3]   # fewer layers than steps


def test_progress_and_counts():
    assert [progress("all", 3, s, 3) for s in (1, 2, 3)] == [Fraction(1, 3), Fraction(2, 3), 1]
    assert [progress("reversed", 2, s, 3) for s in (1, 2, 3)] == [0, 1, 1]
    assert count_at(128, 72, Fraction(1, 4)) == 114 and count_at(128, 72, 1) == 72 and count_at(128, 72, 0) == 128
    # the kernel-pruning schedule of sw.pruning.step_targets, exactly
    from sw.pruning import step_targets
    for full, kept, steps in ((128, 72, 4), (1024, 576, 3), (7, 2, 2), (33, 10, 6)):
        for step in range(1, steps + 1):
            assert count_at(full, kept, progress("all", steps, step, steps)) == step_targets(full, kept, steps, step)


def test_uniform_targets_keep_the_same_fraction_everywhere():
    assert uniform_targets(SIZES, 0.1) == {"a": 10, "b": 40, "c": 5, "d": 40, "fc": 3}
    assert uniform_targets({"tiny": 3}, 0.01) == {"tiny": 1}             # never an empty layer


def test_peak_targets_cut_the_largest_layers_to_one_level():
    kept = peak_targets(SIZES, 0.3)                                      # 294 of 980
    assert sum(kept.values()) == round(0.3 * 980)
    # c and fc are under the level (71): whole; a, b, d cut to it; the one weight left over goes
    # to the largest layer (b, before d: input to output)
    assert kept == {"a": 71, "b": 72, "c": 50, "d": 71, "fc": 30}
    assert peak_targets(SIZES, 1.0) == SIZES
    # the largest layers lose the largest share
    assert kept["b"] / SIZES["b"] < kept["a"] / SIZES["a"] < 1.0


def test_peak_and_uniform_keep_the_same_total_on_tiny():
    sizes = prunable_sizes(spec_weight_layers(unpruned(load_preset("tiny"))))
    assert sum(sizes.values()) == 198_784
    for keep in (0.1, 0.2, 0.5):
        peak, uniform = peak_targets(sizes, keep), uniform_targets(sizes, keep)
        assert sum(peak.values()) == round(keep * 198_784)
        assert abs(sum(uniform.values()) - keep * 198_784) <= len(sizes)
        assert peak["dsc14.pw"] < uniform["dsc14.pw"] and peak["dsc2.pw"] >= uniform["dsc2.pw"]
    # the figures docs/training.md quotes (R = 0.2)
    peak = peak_targets(sizes, 0.2)
    assert min(peak[f"dsc{i}.pw"] for i in range(6, 15)) == 3_720          # the level
    assert all(peak[name] == sizes[name] for name in ("dsc2.pw", "dsc3.pw", "dsc4.pw", "dsc5.pw", "fc"))
    assert round(100 * peak["dsc14.pw"] / sizes["dsc14.pw"], 1) == 5.7


def test_fine_targets_with_overrides():
    out = fine_targets(SIZES, 0.5, "forward", {"fc": 0.1})
    assert out == {"a": 50, "b": 200, "c": 25, "d": 200, "fc": 3}
    assert fine_targets(SIZES, None, "peak", {"b": 0.25}) == {"b": 100}
    peak = fine_targets(SIZES, 0.3, "peak", {"fc": 1.0})
    assert peak["fc"] == 30 and sum(v for k, v in peak.items() if k != "fc") == round(0.3 * 950)


@pytest.mark.parametrize("call, message", [
    (lambda: ranked(SIZES, "backward"), "pruning order must be one of all, forward, reversed, peak, got 'backward'"),
    (lambda: stages(SIZES, "forward", 0), "steps must be an integer >= 1, got 0"),
    (lambda: progress("all", 1, 4, 3), "step 4 is out of range (1..3)"),
    (lambda: count_at(10, 11, 1), "target 11 is out of range (0..10)"),
    (lambda: uniform_targets(SIZES, 0.0), "keep must be a fraction in (0, 1], got 0.0"),
    (lambda: uniform_targets({"x": 0}, 0.5), "layer 'x': size must be an integer >= 1, got 0"),
    (lambda: peak_targets(SIZES, 0.004), "keep 0.004 leaves 4 weights for 5 layers"),
    (lambda: fine_targets(SIZES, 0.5, "all", {"zz": 0.5}), "no prunable layer 'zz'"),
    (lambda: fine_targets(SIZES, 0.5, "all", {"a": 1.5}), "the keep ratio of a must be a fraction in (0, 1], got 1.5"),
])
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
