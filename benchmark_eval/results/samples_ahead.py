"""A run's samples.jsonl, built while OpenCompass still runs.

Against a fast server, a whole MMLU run's samples took 1.3 s after OpenCompass's last result
(reading the traces 0.3 s, building the samples 0.6 s, writing them 0.4 s), while the CLI's
process had idled through the run. Now each dataset's samples are built as soon as its result
file is there (`poll`, from the progress loop), into a part file of its own, and `write` joins
the parts in the run's dataset order. A part is used only if the dataset's predictions and
result files are still the very files it was built from (inode, size, modification time); a
dataset whose files changed or that no poll saw is built at the end, as before. So
samples.jsonl is the file a build at the end writes (tests/results/test_samples_ahead.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..fileio import atomic_write_lines
from .run_dir import RunDir
from .samples import build_samples
from .traces import TraceReader

_Signature = tuple[tuple[int, int, int], tuple[int, int, int]]


class SamplesAhead:
    def __init__(self, run_dir: RunDir, model_abbr: str, abbrs: list[str]) -> None:
        self.run_dir, self.model_abbr, self.abbrs = run_dir, model_abbr, abbrs
        self._parts = Path(tempfile.mkdtemp(prefix=".samples-", dir=run_dir.path))
        self._traces = TraceReader(run_dir)
        self._built: dict[str, _Signature] = {}  # dataset -> the files its part was built from

    def _signature(self, abbr: str) -> _Signature | None:
        try:
            files = (os.stat(self.run_dir.predictions(self.model_abbr, abbr)), os.stat(self.run_dir.results(self.model_abbr, abbr)))
        except FileNotFoundError:
            return None
        predictions, result = ((f.st_ino, f.st_size, f.st_mtime_ns) for f in files)
        return predictions, result

    def _part(self, abbr: str) -> Path:
        return self._parts / f"{self.abbrs.index(abbr)}.jsonl"  # (an abbr is no file name)

    def poll(self) -> None:
        """Build the samples of every dataset that has its result file now."""
        ready = [a for a in self.abbrs if a not in self._built and self.run_dir.results(self.model_abbr, a).exists()]
        if not ready:
            return
        traces = self._traces.read_on()  # a dataset's traces are written before its predictions
        for abbr in ready:
            before = self._signature(abbr)
            try:
                samples = build_samples(self.run_dir, self.model_abbr, abbr, traces)
            except Exception:  # noqa: BLE001 (a file still being written, or anything else: built at the end)
                continue
            if before is None or self._signature(abbr) != before:
                continue  # written to while read: the next poll, or the end, builds it
            atomic_write_lines(self._part(abbr), (sample.to_json() for sample in samples))
            self._built[abbr] = before

    def write(self) -> int:
        """samples.jsonl, in dataset order: each dataset's part where its files are unchanged,
        else its samples built now. The number of samples."""
        traces = self._traces.read_on()

        def lines() -> Iterator[str]:
            for abbr in self.abbrs:
                if abbr in self._built and self._built[abbr] == self._signature(abbr):
                    with open(self._part(abbr), encoding="utf-8") as part:
                        yield from (line.rstrip("\n") for line in part)
                else:
                    yield from (sample.to_json() for sample in build_samples(self.run_dir, self.model_abbr, abbr, traces))

        return atomic_write_lines(self.run_dir.samples, lines())

    def close(self) -> None:
        shutil.rmtree(self._parts, ignore_errors=True)
