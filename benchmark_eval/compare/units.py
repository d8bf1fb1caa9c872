"""Sign-off units: what a verdict is decided on.

By default a unit is each benchmark present (OpenCompass's headline groups: mmlu, ceval,
cmmlu, ...) and each dataset that belongs to no group (gsm8k, openai_humaneval, Xsum). A
subject of 100-300 questions cannot resolve a 1% margin; the benchmark can, and it is what
people quote. `--units` names others: any group of the run (mmlu-stem), any dataset, or a
YAML file of named dataset lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import yaml

from ..errors import UserError
from ..plan.groups import groups_for, headline_groups
from ..results import BenchmarkGroup, RunManifest


@dataclass(frozen=True)
class Unit:
    """A set of datasets decided together, and how their scores combine into the unit's score."""

    name: str  # "mmlu", "gsm8k", or a name from a units file
    label: str  # what it holds: "mmlu (5 of 57 subjects, limit 20)"
    datasets: tuple[str, ...]  # dataset abbrs
    weights: tuple[float, ...]  # one per dataset; the unit's score is their weighted mean
    average: Literal["naive", "weighted", "one dataset"]
    group: BenchmarkGroup | None = None  # the OpenCompass group whose average the unit's score is
    metric: str | None = None  # a metric the group names, else every metric all datasets share
    quoted: BenchmarkGroup | None = None  # the group people quote (mmlu), when the score is another's (mmlu-weighted)

    @property
    def estimator(self) -> str:
        if self.average == "one dataset":
            return "the dataset's score"
        if self.average == "naive":
            return f"naive average of {len(self.datasets)} subsets' scores"
        source = f" ({self.group.source or 'OpenCompass'}'s {self.group.name} weights)" if self.group is not None else ""
        return f"weighted average of {len(self.datasets)} subsets' scores{source}"


def margin_names(unit: Unit, configs: dict[str, str]) -> list[str | None]:
    """Where a margins file can set this unit's margin, first match wins: the unit, its group,
    and for a unit of one dataset or one config, that dataset and config (mmlu_gen)."""
    shared = {configs[d] for d in unit.datasets if d in configs}
    return [unit.name, unit.group.name if unit.group else None, unit.datasets[0] if len(unit.datasets) == 1 else None,
            shared.pop() if len(shared) == 1 else None]


def settable_names(units: Sequence[Unit], configs: dict[str, str]) -> set[str]:
    """Every name a margins file may set in a comparison of these units (margin_names' candidates)."""
    return {u.name for u in units} | {u.group.name for u in units if u.group} | set(configs) | set(configs.values())


def run_groups(manifest: RunManifest) -> list[BenchmarkGroup]:
    """The groups a run recorded; for runs from before groups were recorded, worked out again."""
    if manifest.groups is not None:
        return list(manifest.groups)
    limit = manifest.slice.limit if manifest.slice else None
    return groups_for({abbr: d.config for abbr, d in manifest.datasets.items()}, limit)


def _from_group(group: BenchmarkGroup, name: str | None = None) -> Unit:
    weights = tuple(group.weights[s] for s in group.subsets) if group.weights else (1.0,) * len(group.subsets)
    average: Literal["naive", "weighted", "one dataset"] = "weighted" if group.weights else "naive"
    metrics = set(group.subset_metrics.values())
    return Unit(name or group.name, group.label, tuple(group.subsets), weights, average, group,
                metrics.pop() if len(metrics) == 1 else None)


def _single(abbr: str) -> Unit:
    return Unit(abbr, abbr, (abbr,), (1.0,), "one dataset")


def default_units(groups: Sequence[BenchmarkGroup], datasets: Sequence[str]) -> list[Unit]:
    """Each benchmark present and each dataset in no benchmark, among `datasets` (both runs' common ones).

    A benchmark that OpenCompass also averages by question count (mmlu-weighted: the same
    subjects, weighted by their test sizes) is decided on that average: it estimates the same
    device difference with a smaller error than the mean of subject scores, which weighs a
    100-question subject like a 1,534-question one (docs/signoff.md).
    """
    common = set(datasets)
    groups = [g for g in groups if set(g.subsets) <= common]
    units: list[Unit] = []
    for head in headline_groups(groups):
        twin = None if head.weights else next((g for g in groups if g.weights and set(g.subsets) == set(head.subsets)), None)
        units.append(replace(_from_group(twin or head, head.name), label=head.label, quoted=head if twin else None))
    grouped = {d for u in units for d in u.datasets}
    units += [_single(d) for d in datasets if d not in grouped]
    return units


def _named(name: str, groups: list[BenchmarkGroup], defaults: list[Unit], datasets: Sequence[str]) -> Unit:
    for unit in defaults:
        if unit.name == name:
            return unit
    for group in groups:
        if group.name == name:
            return _from_group(group)
    if name in datasets:
        return _single(name)
    known = [u.name for u in defaults] + [g.name for g in groups if g.name not in {u.name for u in defaults}]
    raise UserError(f"unknown unit '{name}': it is no benchmark group or dataset of both runs; "
                    f"use one of {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}")


def _from_file(path: Path, groups: list[BenchmarkGroup], defaults: list[Unit], datasets: Sequence[str]) -> list[Unit]:
    hint = "it must be YAML with units: {name: [group or dataset names]} (see configs/units.yaml)"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = data["units"]
        if not isinstance(entries, dict) or not entries:
            raise TypeError
        members = {str(name): [str(m) for m in (items if isinstance(items, list) else [items])] for name, items in entries.items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"cannot read units file {path} ({type(error).__name__}); {hint}") from None
    units = []
    for name, names in members.items():
        parts = [_named(m, groups, defaults, datasets) for m in names]
        abbrs = tuple(d for p in parts for d in p.datasets)
        if len(set(abbrs)) != len(abbrs):
            raise UserError(f"unit '{name}' in {path} names a dataset twice; list each group or dataset once")
        if len(parts) == 1:
            units.append(replace(parts[0], name=name, quoted=None))
        else:  # several groups or datasets: each dataset counts once, as in a naive average
            units.append(Unit(name, f"{name} ({' + '.join(p.label for p in parts)})", abbrs, (1.0,) * len(abbrs), "naive"))
    return units


def resolve_units(groups: Sequence[BenchmarkGroup], datasets: Sequence[str], spec: str | None) -> list[Unit]:
    """The units to decide on: the defaults, or those `spec` names (comma-separated names, or a YAML file)."""
    groups = [g for g in groups if set(g.subsets) <= set(datasets)]
    defaults = default_units(groups, datasets)
    if not spec:
        return defaults
    if spec.endswith((".yaml", ".yml")):
        return _from_file(Path(spec), groups, defaults, datasets)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if len(set(names)) != len(names):
        raise UserError(f"--units names a unit twice ({spec}); name each once")
    return [_named(n, groups, defaults, datasets) for n in names]
