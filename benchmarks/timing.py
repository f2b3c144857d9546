"""Timing helpers shared by every group.

A ``Case`` is one measured operation. It is set up and run inside a worker
process (``workers.py``), so this module imports only the standard library:
the worker of the public package's environment imports it too.

``alternate`` runs several cases round by round, one timed loop of each per
round in a rotating order, so that a burst of machine noise lands on all of
them. ``Row`` turns the samples of two cases into one table line: the median
cost per operation of each, and the median of the ratios of samples taken in
the same round.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .workers import Worker

__all__ = [
    "Case",
    "Contender",
    "Row",
    "Target",
    "alternate",
    "format_us",
    "now",
]

now = time.perf_counter


class Case:
    """One measured operation, built from JSON parameters inside a worker.

    ``setup`` runs once, untimed. Each ``run`` prepares what it needs
    untimed, then times one loop and returns ``(seconds, operations)``.
    """

    def __init__(self, **params: Any) -> None:
        self.params = params

    def setup(self) -> None:
        pass

    def run(self) -> tuple[float, int]:
        raise NotImplementedError

    def teardown(self) -> None:
        pass


@dataclass(frozen=True)
class Contender:
    """A case class to run in a given worker, under a label used in the tables.

    The worker imports the class by its module and name, so it must be
    defined at the top level of a module of this package.
    """

    label: str
    worker: Worker
    case: type[Case]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def case_path(self) -> str:
        return f"{self.case.__module__}:{self.case.__qualname__}"


def alternate(
    name: str, contenders: Sequence[Contender], rounds: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Run every contender once per round and return seconds per operation.

    The order rotates from round to round, so no contender always runs right
    after the same neighbour. The first ``warmup`` runs of each contender fill
    caches and are dropped. ``name`` labels the progress line on stderr.
    """
    started = now()
    labels = [c.label for c in contenders]
    if len(set(labels)) != len(labels):
        raise ValueError(f"contender labels must be unique, got {labels}")

    handles = [c.worker.setup(c.case_path, c.params) for c in contenders]
    samples: dict[str, list[float]] = {label: [] for label in labels}
    try:
        for _ in range(warmup):
            for contender, handle in zip(contenders, handles, strict=True):
                contender.worker.run(handle)

        for round_index in range(rounds):
            shift = round_index % len(contenders)
            order = list(range(shift, len(contenders))) + list(range(shift))
            for index in order:
                contender = contenders[index]
                seconds, operations = contender.worker.run(handles[index])
                samples[contender.label].append(seconds / operations)
    finally:
        for contender, handle in zip(contenders, handles, strict=True):
            contender.worker.teardown(handle)
    print(
        f"  {name}: {len(contenders)} cases x {rounds} rounds in {now() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return samples


@dataclass(frozen=True)
class Target:
    """An upper bound on the cost ratio ``ours / anchor``.

    A speed-up target such as "5x faster" is the bound 1/5.
    """

    max_ratio: float
    text: str

    @classmethod
    def at_most(cls, factor: float) -> Target:
        return cls(factor, f"≤ {factor:g}x")

    @classmethod
    def faster_by(cls, factor: float) -> Target:
        return cls(1.0 / factor, f"≥ {factor:g}x faster")


@dataclass(frozen=True)
class Row:
    """One table line: our cost, an anchor's cost, their ratio and a target."""

    operation: str
    ours_label: str
    ours_seconds: float
    anchor_label: str
    anchor_seconds: float
    ratio: float
    ratio_low: float
    ratio_high: float
    target: Target | None = None
    note: str = ""

    @classmethod
    def compare(
        cls,
        operation: str,
        samples: dict[str, list[float]],
        ours: str,
        anchor: str,
        target: Target | None = None,
        note: str = "",
    ) -> Row:
        """Build a row from the samples of two contenders of one ``alternate``.

        The ratio is the median of the per-round ratios, and its spread is
        their interquartile range.
        """
        ours_samples = samples[ours]
        anchor_samples = samples[anchor]
        ratios = sorted(
            o / a for o, a in zip(ours_samples, anchor_samples, strict=True)
        )
        low, high = _quartiles(ratios)
        return cls(
            operation=operation,
            ours_label=ours,
            ours_seconds=statistics.median(ours_samples),
            anchor_label=anchor,
            anchor_seconds=statistics.median(anchor_samples),
            ratio=statistics.median(ratios),
            ratio_low=low,
            ratio_high=high,
            target=target,
            note=note,
        )

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio <= self.target.max_ratio

    def ratio_text(self) -> str:
        spread = f"{self.ratio_low:.2f} to {self.ratio_high:.2f}"
        if self.ratio < 1:
            return f"{self.ratio:.3f} ({1 / self.ratio:.1f}x faster; {spread})"
        return f"{self.ratio:.2f} ({spread})"


def _quartiles(sorted_values: list[float]) -> tuple[float, float]:
    if len(sorted_values) < 4:
        return sorted_values[0], sorted_values[-1]
    first, _, third = statistics.quantiles(sorted_values, n=4, method="inclusive")
    return first, third


def format_us(seconds: float) -> str:
    """Format a duration in seconds as microseconds, with fewer decimals as it grows."""
    micro = seconds * 1e6
    if micro >= 100:
        return f"{micro:,.0f}"
    if micro >= 10:
        return f"{micro:.1f}"
    return f"{micro:.2f}"
