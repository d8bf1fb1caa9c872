"""Programs run in another interpreter (e.g. the vLLM environment), by file path."""
