"""One configuration's review from two synthesized output directories: the library behind ``__main__``.

``review_configuration`` needs no git and no cdktf: the tests feed it fixture pairs directly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.cost import compare as compare_costs
from tools.cost import default_assumptions, load_prices, price_dirs, price_options
from tools.cost.compare import StackDelta
from tools.cost.options import OPTIONS, Option
from tools.review import findings
from tools.review.changes import ResourceChange, diff
from tools.review.diagram import diagram_options, review_diagram
from tools.tfjson import Stack, find_stack_dirs, read_stacks

# The options a review totals: each compute on the data tier (not the side-by-side move).
REVIEWED_OPTIONS: tuple[Option, ...] = OPTIONS[:2]
# Two options per configuration share the report's budget (report.DEFAULT_BUDGET).
DIAGRAM_CHARS = 10_000


@dataclass(frozen=True)
class OptionTotal:
    label: str
    base: float | None  # None: the option is not complete on that side
    head: float | None

    @property
    def delta(self) -> float:
        return (self.head or 0.0) - (self.base or 0.0)


@dataclass
class ConfigurationReview:
    name: str
    base_missing: str = ""  # why the base has nothing to compare (no such file, synthesis failed)
    changes: list[ResourceChange] = field(default_factory=list)
    option_totals: list[OptionTotal] = field(default_factory=list)
    cost_lines: list[StackDelta] = field(default_factory=list)
    findings: findings.FindingsDelta | None = None  # None: not scanned (asked not to)
    diagrams: dict[str, str] = field(default_factory=dict)  # option label -> Mermaid source

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.findings or any(abs(t.delta) >= 0.005 for t in self.option_totals))


@dataclass
class Review:
    base_label: str
    head_label: str
    configurations: list[ConfigurationReview]


def _stacks(outdir: Path | None) -> dict[str, Stack]:
    return read_stacks(outdir) if outdir else {}


def _totals(base_dirs: list[Path], head_dirs: list[Path]) -> tuple[list[OptionTotal], list[StackDelta]]:
    prices, assume = load_prices(), default_assumptions()
    old = price_dirs(base_dirs, prices, assume) if base_dirs else []
    new = price_dirs(head_dirs, prices, assume)
    totals = {}
    for side, reports in (("base", old), ("head", new)):
        for option in price_options(reports, REVIEWED_OPTIONS)[0]:
            totals.setdefault(option.option.label, {})[side] = option.total
    rows = [
        OptionTotal(
            option.label, totals.get(option.label, {}).get("base"), totals.get(option.label, {}).get("head")
        )
        for option in REVIEWED_OPTIONS
        if option.label in totals
    ]
    return rows, [delta for delta in compare_costs(old, new) if delta.changed]


def _changed_stack_dirs(base: dict[str, Stack], head: dict[str, Stack]) -> tuple[list[Path], list[Path]]:
    names = [name for name in head if name not in base or base[name].config != head[name].config]
    return [base[n].directory for n in names if n in base], [head[n].directory for n in names]


def review_configuration(
    name: str,
    base_outdir: Path | None,
    head_outdir: Path,
    *,
    scan: bool = True,
    policies_changed: bool = False,
    base_missing: str = "",
) -> ConfigurationReview:
    base, head = _stacks(base_outdir), _stacks(head_outdir)
    review = ConfigurationReview(name, base_missing=base_missing, changes=diff(base, head))
    base_dirs = find_stack_dirs([base_outdir]) if base_outdir else []
    review.option_totals, review.cost_lines = _totals(base_dirs, find_stack_dirs([head_outdir]))
    if scan:
        if policies_changed:
            old_dirs, new_dirs = [s.directory for s in base.values()], [s.directory for s in head.values()]
        else:
            old_dirs, new_dirs = _changed_stack_dirs(base, head)
        # checkov runs in its own process: both sides at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            old, new = pool.map(findings.scan, (old_dirs, new_dirs))
        review.findings = findings.compare(old, new, sorted(d.name for d in new_dirs))
    for option in diagram_options(head):
        drawn = review_diagram(base, head, option, max_chars=DIAGRAM_CHARS)
        if drawn:
            review.diagrams[option.label] = drawn
    return review
