"""Sandboxed execution of model-written programs (HumanEval): namespaces, limits, timeouts."""

from .runner import SandboxLimits, SandboxResult, protections, run_program

__all__ = ["SandboxLimits", "SandboxResult", "protections", "run_program"]
