"""`benchmark-eval compare`: the sign-off of CANDIDATE against BASELINE (or published targets)."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict

from ..compare.divergence import NEAR_TIE_NATS
from ..compare.margins import DEFAULT_MARGIN
from ..compare.statistics import DEFAULT_RESAMPLES
from ..errors import UserError
from ..settings import setting
from ..stops import set_phase
from .app import app
from .options import parse_options, with_options


class CompareOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: Path | None = setting(None, flags=("--reference",), help="YAML of published target scores (configs/references/) instead of a baseline run")
    out: Path | None = setting(None, flags=("--out",), help="report folder (default: <candidate>/compare)")
    margin: float = setting(DEFAULT_MARGIN, flags=("--margin",), gt=0, help=f"equivalence margin, relative to the baseline score (default {DEFAULT_MARGIN})",
                            hint="pass --margin as a share of the baseline score, e.g. 0.01 for 1%")
    margins_file: Path | None = setting(None, flags=("--margins-file",), help="YAML with per-unit margins (see configs/margins.yaml)")
    units: str | None = setting(None, flags=("--units",), help="what to decide on: comma-separated groups or datasets (mmlu-stem,gsm8k), or a YAML file "
                                "(configs/units.yaml); default: each benchmark and each ungrouped dataset")
    noise_floor: Path | None = setting(None, flags=("--noise-floor",), help="a second baseline run (same device, same config): flags a candidate that "
                                       "disagrees with the baseline more often than the baseline with itself")
    allow_mismatch: bool = setting(False, flags=("--allow-mismatch/--no-allow-mismatch",), help="report runs whose inputs differ (the report is stamped)")
    resamples: int = setting(DEFAULT_RESAMPLES, flags=("--resamples",), gt=0, help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})",
                             hint="pass --resamples as a positive whole number")
    seed: int = setting(0, flags=("--seed",), help="bootstrap seed (reports are reproducible; default 0)", hint="pass --seed as a whole number")
    near_tie: float = setting(NEAR_TIE_NATS, flags=("--near-tie",), ge=0.0, help="flip triage: a divergence where the baseline's top-1 led its top-2 "
                              f"by less than this many nats is a near-tie (default {NEAR_TIE_NATS})", hint="pass --near-tie as a number of nats >= 0")


@app.command(epilog=app.info.epilog)
@with_options(CompareOptions)
def compare(runs: list[Path] = typer.Argument(..., help="BASELINE CANDIDATE run folders or packs of them (e.g. the GPU run, then the NPU run); with --reference only CANDIDATE"),
            **given: str | None) -> None:
    """Sign off CANDIDATE against BASELINE (or --reference targets), per benchmark with the suite's error control: exit 0 PASS, 10 FAIL, 11 INCONCLUSIVE, 12 not comparable, 2 bad input."""
    from .pack import compare_out

    set_phase("comparison")
    options = parse_options(CompareOptions, given)
    if options.reference is not None:
        if len(runs) != 1:
            raise UserError(f"with --reference give one run folder (the candidate), not {len(runs)}")
        from ..compare.reference import compare_to_reference
        from ..report import write_reference_report

        result = compare_to_reference(runs[0], options.reference, options.resamples, options.seed)
        paths = write_reference_report(result, options.out or compare_out(runs[0]))
        typer.echo(f"verdict: {result.verdict} (against {result.reference.name}; no paired statistics without a baseline run)")
        for t in result.results:
            typer.echo(f"  {t.dataset} {t.metric}: {t.verdict}" + (f" (missed by {t.shortfall:.4f})" if t.shortfall is not None else ""))
        typer.echo(f"report: {paths['md']} {paths['json']}")
        raise typer.Exit(result.exit_code)
    if len(runs) != 2:
        raise UserError(f"give two run folders, BASELINE and CANDIDATE (got {len(runs)}), or one with --reference FILE")
    from ..compare import Margins, compare_runs
    from ..compare.triage import reading
    from ..report import write_report

    baseline, candidate = runs
    comparison = compare_runs(baseline, candidate, Margins.load(options.margins_file, options.margin), options.allow_mismatch,
                              options.resamples, options.seed, units=options.units, noise_floor=options.noise_floor, tau=options.near_tie)
    paths = write_report(comparison, options.out or compare_out(candidate))
    label = " (noise floor: same device and software)" if comparison.noise_floor else ""
    typer.echo(f"verdict: {comparison.verdict}{label}")
    for unit in comparison.units:
        flag = " [discordance above the noise floor]" if unit.floor and unit.floor.above else ""
        causes = comparison.causes(unit.unit.datasets, unit.metric)
        why = f"; {reading(causes, comparison.tau)}" if causes else ""
        typer.echo(f"  {unit.unit.label} / {unit.metric}: {unit.verdict}{flag}{why}")
        if unit.not_judgeable:
            typer.echo(f"    this model cannot be judged on it: {unit.not_judgeable}")
    for step in comparison.next_steps:
        typer.echo(f"  next step, {step.unit} / {step.metric}: {step.what_to_do}")
        if step.command:
            typer.echo(f"    plan it: {step.command}")
    for flag in comparison.suite.flags:
        typer.echo(f"  flag: {flag}")
    for change in comparison.numerics:
        typer.echo(f"  numerics setting changed (the change under test): {change}")
    for unchecked in comparison.unchecked:
        typer.echo(f"  not checked: {unchecked}")
    typer.echo(f"report: {paths['md']} {paths['html']} {paths['json']}")
    raise typer.Exit(comparison.exit_code)
