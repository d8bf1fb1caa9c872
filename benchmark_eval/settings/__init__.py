"""Settings: env vars and flags -> one typed object (the backend's own settings class, which
backends/selection.py picks)."""

from .run_settings import RunSettings, declaration, logprobs_setting, parse_settings, process_env, setting, split_words, values_from_env
from .server_settings import ServerSettings

__all__ = ["RunSettings", "ServerSettings", "declaration", "logprobs_setting", "parse_settings", "process_env", "setting",
           "split_words", "values_from_env"]
