"""Pruning orders and fine-grained targets: which layers are pruned at which step, and how hard.

Pure arithmetic on layer names and sizes, shared by the training flow (:mod:`sw.pruning`,
:mod:`sw.fine_pruning`) and the storage analysis (``rrm analyze --order``). The
reasoning behind each order is in docs/training.md ("Pruning orders").

An *order* ranks the pruned layers and spreads them over the ``steps`` pruning steps:

``all``
    No order: at step k of K every layer goes k/K of the way from its full size to
    its target (the project's original kernel-pruning schedule).
``forward``
    Input to output: the ranked layers are cut into K contiguous groups of nearly
    equal count; group k reaches its target, in one cut, at step k.
``reversed``
    Output to input (the fully connected layer first), grouped the same way.
``peak``
    The layers holding the most parameters first (ties: input to output), grouped
    the same way, and, for fine-grained targets, hardest: :func:`peak_targets`.

Every layer is at its target after step K in every order; a layer pruned at step k
is retrained through the steps after it.
"""

from __future__ import annotations

from fractions import Fraction

ORDERS = ("all", "forward", "reversed", "peak")


def check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"pruning order must be one of {', '.join(ORDERS)}, got {order!r}")


def _check_step(step: int, steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= steps:
        raise ValueError(f"step {step!r} is out of range (1..{steps})")


def ranked(sizes: dict[str, int], order: str) -> list[str]:
    """The layers of ``sizes`` (given input to output) in the order they are pruned."""
    check_order(order)
    names = list(sizes)
    if order == "reversed":
        return names[::-1]
    if order == "peak":
        return sorted(names, key=lambda name: -sizes[name])   # stable: ties stay input to output
    return names


def stages(sizes: dict[str, int], order: str, steps: int) -> dict[str, int]:
    """The pruning step (1..steps) at which each layer reaches its target (``all``: the last)."""
    _check_step(steps, steps)
    names = ranked(sizes, order)
    if order == "all":
        return {name: steps for name in sizes}
    return {name: 1 + index * steps // len(names) for index, name in enumerate(names)}


def progress(order: str, stage: int, step: int, steps: int) -> Fraction:
    """How far (0..1) a layer of ``stage`` is from its full size to its target after ``step``."""
    check_order(order)
    _check_step(step, steps)
    if order == "all":
        return Fraction(step, steps)
    return Fraction(1 if step >= stage else 0)


def count_at(full: int, target: int, fraction: Fraction) -> int:
    """What a layer of ``full`` keeps when ``fraction`` of the way to ``target``."""
    if not 0 <= target <= full:
        raise ValueError(f"target {target} is out of range (0..{full})")
    return full - round((full - target) * Fraction(fraction))


def _check_keep(keep, what: str = "keep") -> float:
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < keep <= 1.0:
        raise ValueError(f"{what} must be a fraction in (0, 1], got {keep!r}")
    return float(keep)


def _check_sizes(sizes: dict[str, int]) -> None:
    if not sizes:
        raise ValueError("no layers to prune")
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"layer {name!r}: size must be an integer >= 1, got {size!r}")


def uniform_targets(sizes: dict[str, int], keep: float) -> dict[str, int]:
    """Weights each layer keeps when every layer keeps the fraction ``keep`` (at least one)."""
    _check_sizes(sizes)
    keep = _check_keep(keep)
    return {name: max(1, round(keep * size)) for name, size in sizes.items()}


def peak_targets(sizes: dict[str, int], keep: float) -> dict[str, int]:
    """Weights each layer keeps when the peaks of the parameter profile are cut: the "water level".

    The network keeps ``round(keep * total)`` weights. Every layer keeps
    ``min(size, T)`` for one level T: layers smaller than T stay whole, every larger
    one is cut down to T, so the largest layers are pruned hardest. The integer
    remainder goes one weight each to the largest cut layers (ties: input to output).
    ValueError if that would leave a layer without a weight.
    """
    _check_sizes(sizes)
    keep = _check_keep(keep)
    budget = round(keep * sum(sizes.values()))
    if budget < len(sizes):
        raise ValueError(f"keep {keep} leaves {budget} weights for {len(sizes)} layers (at least one each)")
    kept = {}
    rest = sorted(sizes, key=lambda name: sizes[name])     # smallest first; stable
    while rest and sizes[rest[0]] * len(rest) <= budget:
        name = rest.pop(0)
        kept[name] = sizes[name]
        budget -= sizes[name]
    if rest:
        level, extra = divmod(budget, len(rest))
        for index, name in enumerate(sorted(rest, key=lambda n: -sizes[n])):
            kept[name] = level + (1 if index < extra else 0)
    return {name: kept[name] for name in sizes}


def fine_targets(sizes: dict[str, int], keep: float | None, order: str,
                 overrides: dict[str, float] | None = None) -> dict[str, int]:
    """Weights each layer keeps after fine-grained pruning.

    ``overrides`` (layer: keep ratio) fix those layers; the others share ``keep``:
    each the same fraction, or under ``peak`` the water level of :func:`peak_targets`
    (their total is the same). ``keep`` None: only the overridden layers are pruned.
    """
    check_order(order)
    overrides = dict(overrides or {})
    for name, ratio in overrides.items():
        if name not in sizes:
            raise ValueError(f"no prunable layer {name!r} (prunable: {', '.join(sizes)})")
        _check_keep(ratio, f"the keep ratio of {name}")
    out = {name: max(1, round(ratio * sizes[name])) for name, ratio in overrides.items()}
    rest = {name: size for name, size in sizes.items() if name not in overrides}
    if rest and keep is not None:
        share = peak_targets(rest, keep) if order == "peak" else uniform_targets(rest, keep)
        out.update(share)
    return {name: out[name] for name in sizes if name in out}
