"""The suite verdict over sign-off units, with its error control.

- PASS only when every unit passes: an intersection-union test, so each unit's own α-level
  equivalence test keeps the suite's false-PASS rate at α with no correction.
- FAIL when a unit is worse than its margin after Holm's step-down correction across the
  units' one-sided tests (family-wise α = 0.05): one noisy unit among many cannot fail a port.
- Otherwise INCONCLUSIVE: the data cannot tell.
- A unit the model cannot be judged on (compare/judgeable.py) decides nothing unless named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .statistics import ALPHA, PairedResult, Verdict, holm
from .units import Unit


@dataclass
class NoiseFloorCheck:
    """Discordance of the candidate against the baseline, beside the baseline's against itself."""

    n: int
    floor_discordant: int  # samples whose score differs between the two baseline runs
    candidate_discordant: int  # samples whose score differs between baseline and candidate
    floor_diff: float  # the floor's unit-score difference, points
    p_above: float  # one-sided: the candidate disagrees with the baseline more often than the floor does
    above: bool = False  # significant after Holm across units


@dataclass
class UnitComparison:
    unit: Unit
    metric: str
    baseline: float  # the unit's score from the runs' reported scores (OpenCompass's group average)
    candidate: float
    abs_diff: float  # baseline - candidate, points
    rel_diff_pct: float | None  # (baseline - candidate) / baseline * 100, the seed's formula
    rule_1pct: str
    margin_note: str
    paired: PairedResult | None
    quoted: tuple[float, float] | None = None  # the quoted group's scores (mmlu), when the unit decides on another average
    worse_p_holm: float | None = None
    verdict: Verdict = "INCONCLUSIVE"
    reason: str = ""
    floor: NoiseFloorCheck | None = None
    not_judgeable: str | None = None  # why this model cannot be judged on the unit (compare/judgeable.py)

    @property
    def name(self) -> str:
        return self.unit.name


@dataclass
class SuiteVerdict:
    verdict: Verdict
    reason: str
    decided_by: list[str] = field(default_factory=list)  # "unit / metric" of the units that decided it
    # What the candidate must explain whatever the verdict (request health): said beside it, never deciding it.
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "decided_by": self.decided_by, "flags": self.flags}


def decide(units: list[UnitComparison], judge_all: bool = False) -> SuiteVerdict:
    """Set each unit's verdict (FAIL claims Holm-adjusted across units) and the suite's.

    A unit this model cannot be judged on (`not_judgeable`: at chance, floor or ceiling) stays
    out of the decision and of Holm's family, unless `judge_all` (the units were named)."""
    judged = [u for u in units if judge_all or u.not_judgeable is None]
    aside = [u for u in units if not (judge_all or u.not_judgeable is None)]
    tested = [u for u in judged if u.paired is not None]
    if tested:
        adjusted = holm([u.paired.worse_p for u in tested if u.paired])
        for unit, p in zip(tested, adjusted):
            unit.worse_p_holm = float(p)
    for u in judged:
        if u.paired is None:
            u.verdict, u.reason = "INCONCLUSIVE", "no per-sample scores in both runs: no paired statistics possible"
        elif u.worse_p_holm is not None and u.worse_p_holm < ALPHA:
            u.verdict, u.reason = "FAIL", f"{u.paired.reason} (Holm-adjusted p = {u.worse_p_holm:.3g} across {len(tested)} units)"
        elif u.paired.verdict == "FAIL":
            u.verdict = "INCONCLUSIVE"
            u.reason = (f"worse than the margin at p = {u.paired.worse_p:.3g} alone, but not after Holm's correction "
                        f"across {len(tested)} units (adjusted p = {u.worse_p_holm:.3g})")
        else:
            u.verdict, u.reason = u.paired.verdict, u.paired.reason
    for u in aside:
        u.verdict = "INCONCLUSIVE"
        u.reason = f"not judged, this model cannot be judged on it ({u.not_judgeable})" + (
            f"; alone, its test says: {u.paired.reason}" if u.paired is not None else "")
    if not units:
        return SuiteVerdict("INCONCLUSIVE", "no unit to decide on")
    names = {id(u): f"{u.name} / {u.metric}" for u in units}
    if not judged:
        return SuiteVerdict("INCONCLUSIVE", f"no unit can judge this model: it answers all {len(units)} at chance, the floor "
                            "or the ceiling (name units with --units to decide on them anyway): "
                            + "; ".join(f"{names[id(u)]}: {u.not_judgeable}" for u in aside), [names[id(u)] for u in aside])
    left_out = (f" Not judged ({len(aside)}, at chance, floor or ceiling for this model): "
                + ", ".join(names[id(u)] for u in aside) + ".") if aside else ""
    failed = [u for u in judged if u.verdict == "FAIL"]
    if failed:
        return SuiteVerdict("FAIL", f"{len(failed)} of {len(judged)} unit(s) worse than the margin (Holm-adjusted across units): "
                            + "; ".join(f"{names[id(u)]}: {u.reason}" for u in failed) + left_out, [names[id(u)] for u in failed])
    open_units = [u for u in judged if u.verdict == "INCONCLUSIVE"]
    if open_units:
        return SuiteVerdict("INCONCLUSIVE", f"{len(open_units)} of {len(judged)} unit(s) cannot be decided: "
                            + "; ".join(f"{names[id(u)]}: {u.reason}" for u in open_units) + left_out,
                            [names[id(u)] for u in open_units])
    return SuiteVerdict("PASS", f"all {len(judged)} judged unit(s) equivalent within their margins" + left_out,
                        [names[id(u)] for u in judged])
