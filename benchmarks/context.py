"""The run context shared by the groups, and the result each group returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .timing import Contender, Row, alternate
from .workers import Worker

__all__ = ["Context", "GroupResult"]


@dataclass
class Context:
    """The workers, the scratch folder and the run mode shared by the groups.

    ``ours`` runs the project's package from its venv; ``anchors`` runs the
    public package, diskcache, sqlitedict and shelve from the anchors' venv.
    ``scratch`` is a temporary folder for every store, deleted after the run.
    """

    ours: Worker
    anchors: Worker
    scratch: Path
    quick: bool

    @property
    def rounds(self) -> int:
        """Timed loops per case whose median is reported."""
        return 3 if self.quick else 9

    def alternate(
        self,
        name: str,
        contenders: Sequence[Contender],
        rounds: int | None = None,
        warmup: int | None = None,
    ) -> dict[str, list[float]]:
        """Run ``timing.alternate`` with this run's rounds and warm-up loops.

        A quick run skips the warm-up loop: its numbers only show that every
        case runs.
        """
        if rounds is None:
            rounds = self.rounds
        if warmup is None:
            warmup = 0 if self.quick else 1
        return alternate(name, contenders, rounds, warmup)

    def folder(self, name: str) -> str:
        """Return the path of ``name`` in the scratch folder."""
        return str(self.scratch / name)


@dataclass
class GroupResult:
    """The tables and notes of one group, ready for the report."""

    name: str
    title: str
    rows: list[Row]
    notes: list[str]
    seconds: float = 0.0
    extra_markdown: str = ""
