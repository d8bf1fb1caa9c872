"""`benchmark-eval plan-signoff`: before any device time, what a sign-off of these datasets can resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, ConfigDict, field_validator
from rich.table import Table

from ..compare.margins import DEFAULT_MARGIN
from ..compare.plan_signoff import DEFAULT_DISCORDANCE
from ..console import make_console
from ..errors import UserError
from ..handoff import DATA_ROOT_ENV
from ..numbers import fixed, plus_minus
from ..settings import RunSettings, declaration, setting, split_words
from ..stops import set_phase
from .app import app
from .options import parse_options, with_options


def _as_run(field: str, **changes: Any) -> Any:
    """A run setting's declaration, reused: plan-signoff reads the datasets, subjects and limit
    a run would read, from the same env vars."""
    declared = declaration(RunSettings, field)
    return setting(None, env=declared["env"], flags=tuple(declared["flags"]), help=f"{declared['help']}, as for run",
                   hint=declared["hint"], **changes)


class PlanOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    datasets: tuple[str, ...] | None = _as_run("datasets")
    subjects: tuple[str, ...] | None = _as_run("subjects")
    limit: int | None = _as_run("limit", gt=0)
    data_root: Path = setting(Path("."), env=DATA_ROOT_ENV, flags=("--data-root",), help="folder holding data/ (default: .)")
    margin: float = setting(DEFAULT_MARGIN, flags=("--margin",), gt=0, help=f"equivalence margin, relative to the baseline score (default {DEFAULT_MARGIN})",
                            hint="pass --margin as a share of the baseline score, e.g. 0.01 for 1%")
    margins_file: Path | None = setting(None, flags=("--margins-file",), help="YAML with per-unit margins (see configs/margins.yaml)")
    units: str | None = setting(None, flags=("--units",), help="units as for compare: names, or a YAML file")
    discordance: float = setting(DEFAULT_DISCORDANCE, flags=("--discordance",),
                                 help=f"assumed share of samples whose score differs between the devices (default {DEFAULT_DISCORDANCE})")
    score: float | None = setting(None, flags=("--score",), help="baseline score (points) for relative margins (default 50, or the --noise-floor runs')")
    noise_floor: tuple[Path, Path] | None = setting(None, flags=("--noise-floor",),
                                                    help="RUN_A RUN_B: two runs of the baseline's configuration; measures the discordance per unit")

    @field_validator("datasets", "subjects", mode="before")
    @classmethod
    def _split_words(cls, value: Any) -> Any:
        return (split_words(value) or None) if isinstance(value, str) else value


@app.command("plan-signoff", epilog=app.info.epilog)
@with_options(PlanOptions)
def plan_signoff_cmd(**given: str | None) -> None:
    """Plan a sign-off before any device time (no server): per unit, the samples, the difference they resolve, and whether the margin can be signed off."""
    set_phase("planning")
    from ..compare import Margins
    from ..compare.plan_signoff import plan_signoff

    options = parse_options(PlanOptions, given)
    if not options.datasets:
        raise UserError("no datasets to plan: pass --datasets (e.g. 'mmlu_gen ceval_gen gsm8k_gen') or set eval_datasets")
    plan = plan_signoff(options.datasets, options.subjects, options.limit, options.data_root,
                        Margins.load(options.margins_file, options.margin), options.units, options.discordance, options.score, options.noise_floor)
    table = Table(title=f"sign-off plan: α = 0.05, power 0.8; noise: {plan.noise_source}; score: {plan.score_source}")
    for column in ("unit", "n", "subsets", "margin", "resolvable margin", "detectable diff", "P(PASS) if equal", "P(FAIL) if 2x margin worse", "can sign off"):
        table.add_column(column, overflow="fold")

    def fmt(x: float | None, pattern: str | None = None) -> str:
        return "-" if x is None else fixed(x) if pattern is None else pattern.format(x)

    for u in plan.units:
        resolvable = "-" if u.resolvable_margin is None else f"{plus_minus(u.resolvable_margin)}"
        table.add_row(u.unit.label, str(u.n), str(len(u.sizes)), f"{plus_minus(u.margin)} ({u.margin_note})", resolvable,
                      fmt(u.detectable), fmt(u.p_pass_if_equal, "{:.0%}"), fmt(u.p_fail_if_drop, "{:.0%}"),
                      "yes" if u.resolvable else "no")
    make_console(stderr=False).print(table)
    for u in plan.units:
        typer.echo(u.reading())
