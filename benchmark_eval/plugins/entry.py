"""The entry point of OpenCompass's process (run/opencompass_runner.py starts it): OpenCompass's
own CLI after our patches and preloads. It lives among the plugins because it runs where they run."""

from __future__ import annotations

import logging
import os
from typing import Any

from ..compat import (
    fast_in_memory_fingerprints,
    lazy_dataset_loaders,
    no_length_checks_without_examples,
    serialize_global_rng_users,
    share_built_datasets,
)
from ..handoff import WAIT_FOR_GO_ENV


def opencompass_main() -> None:
    """OpenCompass's CLI (`opencompass CONFIG ...` from sys.argv), its config dumps unformatted.

    OpenCompass writes the run's config and each task's config as Python through mmengine's
    `Config.pretty_text`, which formats the text with yapf: 3-8 s per dump for 57 MMLU subjects,
    three dumps a run. The text before formatting is the same Python (mmengine's own
    `format_python_code=False` skips the formatting the same way); only its layout differs.

    With WAIT_FOR_GO_ENV set it imports, then waits for a line "go" on stdin before
    it starts (run/opencompass_runner.py: the import overlaps the run's data preflight).
    """
    import sys

    from yapf.yapflib import yapf_api

    def unformatted(text: str, *args: Any, **kwargs: Any) -> tuple[str, bool]:
        return text, False

    yapf_api.FormatCode = unformatted  # mmengine imports it from here inside pretty_text, at each call
    lazy_dataset_loaders()
    from opencompass.cli.main import main  # most of the import time, paid before "go"

    share_built_datasets()
    fast_in_memory_fingerprints()
    serialize_global_rng_users()
    no_length_checks_without_examples()
    from .models.client_process import prestart
    from .models.tokenizers import preload_tokenizer

    # While the data preflight still runs (this process would only wait): the model's
    # tokenizer and its client's process.
    preload_tokenizer()
    prestart()

    if os.environ.get(WAIT_FOR_GO_ENV) and sys.stdin.readline().strip() != "go":
        return  # the run went no further (its preflight failed, or it was stopped)
    sys.argv[0] = "opencompass"
    main()
    # Everything is written: the tasks closed their clients and files, the summary is out. Skip
    # the interpreter's teardown, which frees a gigabyte of objects one by one (1-2 s after the
    # last result of a full MMLU run) while the run waits for this process to end.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
