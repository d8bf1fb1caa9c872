"""Settings: env vars and flags -> one typed object."""

from .run_settings import ENV_VARS, RunSettings, parse_settings, split_words
from .server_settings import ServerSettings

__all__ = ["ENV_VARS", "RunSettings", "ServerSettings", "parse_settings", "split_words"]
