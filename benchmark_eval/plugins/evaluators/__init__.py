"""OpenCompass evaluators of ours, plugged in through the dataset configs' `eval_cfg`.

Each keeps the stock evaluator's aggregate score and adds what the stock one lacks:
per-sample results (for samples.jsonl and paired statistics) and, for HumanEval, scoring a
subset of problems against the problems actually in the dataset.
"""

from .accuracy import AccuracyEvaluator
from .humaneval import HumanEvalEvaluator
from .rouge import RougeEvaluator

__all__ = ["AccuracyEvaluator", "HumanEvalEvaluator", "RougeEvaluator"]
