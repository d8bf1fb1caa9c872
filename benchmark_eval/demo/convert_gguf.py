"""Convert the demo model's GGUF file into a Hugging Face folder (fp32 safetensors).

Runs as a plain script in an environment with transformers>=5 (the vLLM environment):
transformers 4.x converts this GGUF's special tokens wrongly. It imports nothing from
benchmark_eval, so any interpreter with torch, transformers, gguf and accelerate can run it.

usage: python convert_gguf.py GGUF_FILE OUT_DIR
"""

import json
import sys
from pathlib import Path
from typing import Any


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a model with a GGUF quantizer attached: copy the (already
    # dequantized) weights into a plain model built from the same config.
    model = AutoModelForCausalLM.from_config(quantized.config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    make_portable(out)
    set_special_tokens(out, gguf)


def set_special_tokens(out: Path, gguf_path: Path) -> None:
    """Special tokens exactly as the GGUF file declares them.

    transformers' GGUF tokenizer conversion got them wrong before 5.19 (4.57 and 5.17 made
    <|im_start|> the eos and prepended it to every text), so they are written from the
    file's own metadata, whatever version converted it.
    """
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf_path)).fields

    def value(key: str) -> Any:
        return fields[key].contents() if key in fields else None

    tok_json_path = out / "tokenizer.json"
    tok_json = json.loads(tok_json_path.read_text())
    by_id = {t["id"]: t["content"] for t in tok_json.get("added_tokens", [])}
    by_id.update({i: t for t, i in tok_json["model"]["vocab"].items() if i not in by_id})
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    for name, key in (("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unknown"), ("pad_token", "padding")):
        token_id = value(f"tokenizer.ggml.{key}_token_id")
        if token_id is not None:
            config[name] = by_id[int(token_id)]
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    if not value("tokenizer.ggml.add_bos_token"):
        # No BOS: the post-processor passes the text's tokens through unchanged.
        tok_json["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {},
        }
        tok_json_path.write_text(json.dumps(tok_json, indent=2, ensure_ascii=False) + "\n")


def make_portable(out: Path) -> None:
    """Make the folder load the same under transformers 4.x (OpenCompass) and 5.x (vLLM)."""
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config.pop("quantization_config", None)  # vLLM would try to load a GGUF quantizer
    rope = config.get("rope_parameters") or {}
    if "rope_theta" in rope:
        config.setdefault("rope_theta", rope["rope_theta"])  # 4.x reads only the flat key
    config.setdefault("torch_dtype", config.get("dtype", "float32"))
    config_path.write_text(json.dumps(config, indent=2) + "\n")

    tok_path = out / "tokenizer_config.json"
    tok = json.loads(tok_path.read_text())
    # transformers 5 names its own backend class, which 4.x does not know.
    tok["tokenizer_class"] = "PreTrainedTokenizerFast"
    for key in ("backend", "is_local", "local_files_only"):
        tok.pop(key, None)
    tok["model_max_length"] = 2048
    tok_path.write_text(json.dumps(tok, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
