"""Raw dataset sources -> OpenCompass's layouts: one module per dataset, one shared framework."""

from .base import ConversionResult, write_conversion
from .ceval import convert_ceval
from .mmlu import convert_mmlu
from .xsum import convert_xsum

CONVERTERS = {"xsum": convert_xsum, "mmlu": convert_mmlu, "ceval": convert_ceval}

__all__ = ["CONVERTERS", "ConversionResult", "write_conversion"]
