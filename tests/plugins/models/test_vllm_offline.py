"""Files the offline model class starts by path, not by import: a move must not lose them."""

from __future__ import annotations

from benchmark_eval.plugins.models import vllm_offline


def test_the_engine_worker_script_is_where_the_model_class_starts_it() -> None:
    assert vllm_offline._WORKER.is_file()
    assert "def main" in vllm_offline._WORKER.read_text() or "__main__" in vllm_offline._WORKER.read_text()
