"""The thing under test when it is a server: start, wait for and stop vLLM's OpenAI API server.

Apart from run/ (which evaluates whatever answers at host:port) because a user's own server,
the demo's and the tests' all go through it, and the backends name its device environment.
"""

from .lifecycle import (
                        ServerHandle,
                        build_command,
                        build_env,
                        free_port,
                        running_server,
                        served_models,
                        start_server,
                        stop_server,
                        vllm_device_env,
)

__all__ = ["ServerHandle", "build_command", "build_env", "free_port", "running_server", "served_models", "start_server",
           "stop_server", "vllm_device_env"]
