"""What OpenCompass loads by dotted path, and runs in its own processes (never in ours).

The run's config (plan/) names these classes; OpenCompass imports them in its task processes:
  models/       one OpenCompass model class per backend (vllm_api, vllm_offline, hf_local) and
                what they share: api_client.py (bounded concurrency, retries, failover, request
                cache), client_process.py (that client in a process of its own), answers.py
                (what is kept of an answer), continuation.py (the one log-likelihood scoring
                rule), devices.py, tokenizers
  inferencers/  ChoiceLoglikInferencer: PPL datasets scored by the shared rule
  evaluators/   stock metrics plus per-sample results (HumanEval through sandbox/)
  tasks/        OverlappedInferTask: datasets in flight together, each evaluated as it ends
  entry.py      the entry point of OpenCompass's process (OpenCompass's CLI after our patches)
                (built_datasets.py: each dataset built once per run; loaders.py: lazy loaders)
"""
