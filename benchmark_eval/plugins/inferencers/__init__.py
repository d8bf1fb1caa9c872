"""OpenCompass inferencers of ours, named by dotted path in the run's config."""

from .choice_loglik import ChoiceLoglikInferencer

__all__ = ["ChoiceLoglikInferencer"]
