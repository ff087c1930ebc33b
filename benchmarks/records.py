"""One row of the `make bench` table: a figure of ours beside its limit measured in the same run.

Every benchmark module exposes `run(quick: bool = False) -> list[Record]`. The harness
(`benchmarks/__main__.py`) prints them as one table, writes `benchmarks/results/latest.json`
and refreshes `docs/performance.md`. A record keeps every run's value, not the best one, so the
spread is in the table and in the document.
"""

from __future__ import annotations

import operator
import statistics
from dataclasses import asdict, dataclass, field

_COMPARE = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Target:
    """What the figure must reach: `op` (">=" or "<=") `value`, judged on the figure itself
    (`of="ours"`) or on ours / limit (`of="ratio"`)."""

    op: str
    value: float
    of: str = "ours"

    def __str__(self) -> str:
        subject = "ratio" if self.of == "ratio" else ""
        return f"{subject} {self.op} {self.value:g}".strip()

    def holds(self, ours: float, ratio: float | None) -> bool | None:
        subject = ratio if self.of == "ratio" else ours
        return None if subject is None else _COMPARE[self.op](subject, self.value)


@dataclass
class Record:
    benchmark: str
    figure: str
    unit: str
    runs: list[float]
    limit: float | None = None
    limit_runs: list[float] = field(default_factory=list)
    target: Target | None = None
    note: str = ""

    @property
    def ours(self) -> float:
        """The median run: neither the best nor the worst."""
        return statistics.median(self.runs)

    @property
    def ratio(self) -> float | None:
        return self.ours / self.limit if self.limit else None

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.runs), max(self.runs)

    @property
    def holds(self) -> bool | None:
        return self.target.holds(self.ours, self.ratio) if self.target else None

    def as_json(self) -> dict:
        row = asdict(self)
        row.update(
            ours=self.ours,
            ratio=self.ratio,
            spread=list(self.spread),
            target=str(self.target) if self.target else None,
            holds=self.holds,
        )
        return row
