"""Which of OpenCompass's benchmark groups a run's datasets fill, and which decide a sign-off.

The groups are OpenCompass's own summary groups (mmlu, mmlu-stem, mmlu-weighted, ceval,
ceval-hard, cmmlu, ...), read from its summarizer configs, never re-typed here. A group belongs
to a run when every one of its subsets is an entry of one of the run's dataset configs; over
our log-likelihood abbrs ("lukaemon_mmlu_X_ppl") the same group is named "mmlu_ppl". A run
that holds part of a group keeps the part, labelled for what it is (BenchmarkGroup.label).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from .. import compat
from ..results.records import BenchmarkGroup
from .datasets import load_config, run_abbr


@functools.lru_cache(maxsize=64)
def _config_abbrs(config_name: str) -> tuple[tuple[str, str], ...]:
    """(stock abbr, the abbr we run it under) for every entry of a dataset config."""
    return tuple((str(e.get("abbr", "")), run_abbr(e)) for e in load_config(config_name))


def _subset(entry: object) -> tuple[str, str | None]:
    if isinstance(entry, (list, tuple)):
        return str(entry[0]), str(entry[1])
    return str(entry), None


def groups_for(datasets: Mapping[str, str], limit: int | None = None) -> list[BenchmarkGroup]:
    """OpenCompass's groups over a run's datasets (abbr -> the config it came from), in its order."""
    found: dict[str, BenchmarkGroup] = {}
    for config in dict.fromkeys(datasets.values()):
        renamed = dict(_config_abbrs(config))
        for group in compat.summary_groups():
            subsets = [_subset(s) for s in group["subsets"]]
            if not all(abbr in renamed for abbr, _ in subsets):
                continue
            run_abbrs = [renamed[abbr] for abbr, _ in subsets]
            present = [a for a in run_abbrs if a in datasets]
            ppl = any(renamed[abbr] != abbr for abbr, _ in subsets)
            name = f"{group['name']}_ppl" if ppl else str(group["name"])
            if not present or name in found:  # a name defined twice (mmlu in two files): the first wins
                continue
            metrics = {renamed[a]: m for a, m in subsets if m is not None and renamed[a] in present}
            weights = group.get("weights") or None
            if weights:
                weights = {renamed[a]: float(weights[a]) for a, _ in subsets if renamed[a] in present and a in weights}
            found[name] = BenchmarkGroup(name=name, subsets=present, total_subsets=len(subsets),
                                         subset_metrics=metrics, weights=weights, limit=limit)
    return list(found.values())


def headline_groups(groups: Iterable[BenchmarkGroup]) -> list[BenchmarkGroup]:
    """The groups a sign-off decides on by default: those no other group contains (mmlu, not
    mmlu-stem, also when a slice holds only STEM subjects); of groups over the same subsets the
    naive average (mmlu, not mmlu-weighted), as OpenCompass's own summaries quote it."""
    groups = list(groups)
    kept: list[BenchmarkGroup] = []
    for g in groups:
        mine = set(g.subsets)
        if any(mine < set(o.subsets) for o in groups) or any(set(k.subsets) == mine for k in kept):
            continue
        same = [o for o in groups if set(o.subsets) == mine]
        kept.append(min(same, key=lambda o: (-o.total_subsets, bool(o.weights))))
    return kept
