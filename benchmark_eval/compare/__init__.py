"""Compare: two runs -> paired statistics and a three-way verdict."""

from .margins import Margins
from .signoff import Comparison, MetricComparison, compare_runs
from .statistics import PairedResult, paired_compare

__all__ = ["Comparison", "Margins", "MetricComparison", "PairedResult", "compare_runs", "paired_compare"]
