"""A summary-only folder (no per-sample predictions): the classic 1% rule as a reference file
for `compare --reference`, which judges each score against 99% of the baseline's and gives the
candidate's own confidence interval: the statistics that are still possible without pairs."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from ..errors import UserError

_NOT_COLUMNS = {"dataset", "version", "metric", "mode"}


def summary_reference(summary: Path, model: str | None, out: Path, tool: str) -> Path:
    with open(summary, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    models = [c for c in (rows[0].keys() if rows else []) if c not in _NOT_COLUMNS]
    if model is None and len(models) != 1:
        raise UserError(f"{summary} holds scores of {len(models)} models ({', '.join(models)}); pick one with --model")
    column = model or models[0]
    if column not in models:
        raise UserError(f"model '{column}' is not a column of {summary}; it has {', '.join(models)}: pass one of them with --model")
    targets = []
    for row in rows:
        try:
            value = float(row[column])
        except (TypeError, ValueError):  # "-": no score
            continue
        targets.append({"dataset": row["dataset"], "metric": row["metric"], "reference": value, "fraction": 0.99})
    if not targets:
        raise UserError(f"{summary} holds no score for {column}; nothing to sign off against")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# The classic 1% rule over {tool}'s summary {summary} ({column}): no per-sample results, so no paired statistics.\n"
                   + yaml.safe_dump({"name": f"{tool} summary of {column}, 1% rule", "source": str(summary), "targets": targets},
                                    sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out
