"""What OpenCompass loads by dotted path, and runs in its own processes (never in ours).

The run's config (plan/) names these classes; OpenCompass imports them in its task processes:
  models/       one OpenCompass model class per backend (vllm_api, vllm_offline, hf_local) and
                what they share: api_client.py (bounded concurrency, retries, failover, request
                cache), continuation.py (the one log-likelihood scoring rule), devices.py, tokenizers
  inferencers/  ChoiceLoglikInferencer: PPL datasets scored by the shared rule
  evaluators/   stock metrics plus per-sample results (HumanEval through sandbox/)
  compat.py     every OpenCompass symbol that is not its public API, pinned and contract-tested
"""
