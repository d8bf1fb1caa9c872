"""Settings: env vars and flags -> one typed object (the backend's own settings class)."""

from .run_settings import RunSettings, cli_options, env_vars, logprobs_setting, parse_run_settings, parse_settings, setting, split_words
from .server_settings import ServerSettings

__all__ = ["RunSettings", "ServerSettings", "cli_options", "env_vars", "logprobs_setting", "parse_run_settings", "parse_settings", "setting",
           "split_words"]
