"""The words a report uses, in plain language: its Method, its legend, and the sentence that
reconciles the classic 1% rule with the verdict where they disagree. One text for report.md and
report.html."""

from __future__ import annotations

from ..compare.suite import UnitComparison
from ..numbers import fixed

METHOD = (
    "A unit is a benchmark (its subjects' scores averaged as OpenCompass averages them) or a dataset "
    "in no benchmark. The two runs are paired sample by sample (same dataset, sample id and prompt). "
    "For each unit, two one-sided tests (TOST, α = 0.05) ask whether the candidate is within the margin "
    "of the baseline: PASS when the 90% confidence interval of the difference lies inside ±margin. "
    "A one-sided test asks whether it is worse by more than the margin: FAIL when it is, after Holm's "
    "correction across the units (so one noisy unit among many cannot fail a port by chance). Anything "
    "else is INCONCLUSIVE: these samples cannot tell. The suite passes only when every unit passes, "
    "and fails when any unit fails."
)

#: (term, meaning), in the order of the units table, then the flip causes.
LEGEND: tuple[tuple[str, str], ...] = (
    ("baseline, candidate", "the unit's score in each run, as OpenCompass reports it (points, 0-100)"),
    ("difference", "candidate minus baseline, from those two scores (negative: the candidate is worse)"),
    ("rel. diff %", "(baseline − candidate) / baseline × 100, the classic rule's number"),
    ("1% rule", "the classic sign-off: PASS when rel. diff % is below 1; both scores 0 count as PASS (nothing was "
                "lost), which says nothing about the devices. It ignores sample size; the verdict does not"),
    ("n", "paired samples in the unit"),
    ("tested estimate", "the difference the tests use: the paired difference with 0.5 added to each cell of "
                        "the right/wrong table (Agresti-Min), so that zero flips still give an interval; it "
                        "differs from the difference above by a small amount on small units"),
    ("90% CI", "where the true difference lies with 90% confidence; inside ±margin is PASS"),
    ("95% bootstrap CI", "the same from resampling samples within subjects, as a check on the normal interval"),
    ("margin", "the largest loss accepted as equivalent, in points (1% of the baseline unless a margins file says otherwise)"),
    ("TOST p", "the p-value of equivalence: below 0.05 means equivalent within the margin"),
    ("worse p (Holm)", "the p-value of 'worse by more than the margin', corrected for the number of units: "
                       "below 0.05 is FAIL"),
    ("flips (R→W / W→R)", "samples right on the baseline and wrong on the candidate, and the other way round"),
    ("McNemar p", "whether the flips lean one way more than chance would (exact test); a diagnostic"),
    ("detectable diff", "the smallest difference these samples find 8 times in 10 (two-sided α = 0.05)"),
    ("not judgeable", "the baseline answers at chance or at the floor or ceiling: no device difference can "
                      "show on such a unit for this model"),
)

CAUSE_MEANINGS: dict[str, str] = {
    "empty-or-error": "one side answered nothing, or its request ended in an error",
    "degenerate": "one side's answer loops, is garbled, is in a writing system nothing in the sample uses, "
                  "or carries a NaN log-prob: the classic sign of a broken kernel",
    "truncated": "only one side stopped at max_out_len",
    "extraction": "the answer could not be read the same way from both texts",
    "scoring": "the same answer, scored differently by the evaluator",
    "near-tie": "where the outputs part, the baseline's first choice led its second by less than the near-tie "
                "bound: rounding differences between devices flip these; expected from any numerics change",
    "confident": "where the outputs part, the baseline was sure: read these first",
    "no-logprobs": "the texts differ and the runs kept no token log-probs to say why",
}


def rule_note(u: UnitComparison) -> str | None:
    """The sentence that says why the classic 1% rule and the verdict disagree, or None."""
    if u.rel_diff_pct is None:
        return "both scores are 0: the 1% rule calls that PASS (nothing was lost), which says nothing about the devices"
    says_pass = u.rule_1pct == "PASS"
    if (says_pass and u.verdict == "PASS") or (not says_pass and u.verdict == "FAIL"):
        return None
    drop = f"{fixed(u.rel_diff_pct)}%"
    if not says_pass and u.verdict == "PASS":
        return (f"the 1% rule says FAIL on the two scores alone (a {drop} drop); paired sample by sample, the "
                "difference is within the margin with 95% confidence")
    if not says_pass:
        return (f"the 1% rule says FAIL on the two scores alone (a {drop} drop); these samples cannot tell that "
                "drop from chance, so the verdict waits for more data")
    if u.verdict == "FAIL":
        return "the 1% rule says PASS on the two scores alone; paired sample by sample the candidate is worse than the margin"
    return (f"the 1% rule says PASS on the two scores alone ({drop}); these samples cannot show that the "
            "difference is inside the margin: equivalence must be shown, not assumed")
