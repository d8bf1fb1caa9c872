"""The embedded demo: a local vLLM CPU server, the demo model and this project's own small datasets."""
