"""benchmark_eval: sign off an LLM deployment's accuracy on a new accelerator.

The public API is small: settings objects, `run_evaluation`, and the server launcher.
"""

__version__ = "0.1.0"

from .errors import EvaluationFailed, UserError  # noqa: E402
from .settings import RunSettings, ServerSettings  # noqa: E402

__all__ = ["EvaluationFailed", "RunSettings", "ServerSettings", "UserError", "__version__", "run_evaluation", "start_server", "stop_server"]


def __getattr__(name: str) -> object:  # lazy: importing the package must not import OpenCompass
    if name == "run_evaluation":
        from .run.pipeline import run_evaluation

        return run_evaluation
    if name in ("start_server", "stop_server"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
