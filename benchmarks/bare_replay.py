"""A bare client against a real server, for a run that already happened: replays the exact
request bodies the run sent (read back from its request cache) at the run's concurrency, and
prints the whole run's time over the bare client's (the GPU showcase's speed column; the
server is the real one the run used, so the ratio is ours against a client that does nothing).

usage: .venv/bin/python benchmarks/bare_replay.py RUN_DIR [RUN_DIR ...] --url http://127.0.0.1:8000 [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cached_requests, prompts_in, request_phase_s  # noqa: E402
from ceiling_speed import _bare  # noqa: E402


def replay(run_dir: Path, url: str) -> dict[str, object]:
    manifest = json.loads((run_dir / "run.json").read_text())
    requests = cached_requests(run_dir)
    concurrency = int(manifest["generation"]["batch_size"])
    whole = (datetime.fromisoformat(manifest["finished_at"]) - datetime.fromisoformat(manifest["started_at"])).total_seconds()
    phase = request_phase_s(run_dir)
    bare = asyncio.run(_bare(url, requests, concurrency))
    return {"run": str(run_dir), "requests": len(requests), "prompts": prompts_in(requests), "concurrency": concurrency,
            "whole_run_s": whole, "request_phase_s": phase, "bare_s": bare,
            "ratio_whole_run": whole / bare, "ratio_request_phase": phase / bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [replay(run, args.url) for run in args.runs]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
