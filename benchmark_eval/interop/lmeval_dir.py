"""lm-evaluation-harness output folders (`lm_eval run ... --output_path OUT --log_samples`, 0.4.x):
`OUT/<model_name_sanitized>/results_<stamp>.json` (scores, groups, every task's config, the
model's arguments) and beside it `samples_<task>_<stamp>.jsonl`, a line per document and filter:
doc_id, target, arguments, resps, filtered_resps, filter, the metric names and values, and
lm-eval's doc_hash, prompt_hash and target_hash. Layout as lm-eval 0.4.13's EvaluationTracker
writes it (lm_eval/loggers/evaluation_tracker.py), checked on its real outputs by the tests.

Each sample keeps lm-eval's own score. Its input is identified by lm-eval's three hashes, so two
runs pair only where they sent the same prompt for the same document and target; each task's
config (few-shot, templates, generation kwargs, filters) is compared key by key.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..results.records import CONTINUATION, BenchmarkGroup, Choice, DatasetRecord, ModelInfo, Sample
from ..results.scripts import prompt_scripts
from .foreign import read_json
from .jsonl import read_jsonl
from .scored import POINTS, ScoredDataset, ScoredRun, input_sha256, without

_RESULTS = "results_*.json"
#: lm-eval's aggregations over per-sample values that are means: those pair sample by sample.
_MEAN = {"mean", None}
_LOGLIK_TYPES = {"multiple_choice", "loglikelihood"}


def _results_files(path: Path) -> list[Path]:
    if path.is_file() and path.name.startswith("results_") and path.suffix == ".json":
        return [path]
    return sorted(path.glob(_RESULTS)) or sorted(path.glob(f"*/{_RESULTS}"))


def is_lmeval_folder(path: Path) -> bool:
    return bool(_results_files(path))


def _pick_results(path: Path, model: str | None) -> Path:
    """The newest results file of the model (the folder lm-eval names after it), or the one given."""
    found = _results_files(path)
    if not found:
        raise UserError(f"{path} holds no lm-eval results (results_*.json, in it or in a model folder inside); give "
                        "the --output_path lm-eval wrote to")
    models = sorted({f.parent.name for f in found})
    if model is not None:
        found = [f for f in found if f.parent.name == model]
        if not found:
            raise UserError(f"model '{model}' has no results in {path}; it holds {', '.join(models)}: pass one of them with --model")
    elif len({f.parent for f in found}) > 1:
        raise UserError(f"{path} holds results of {len(models)} models ({', '.join(models)}); pick one with --model")
    return max(found, key=lambda f: f.name)  # the stamp sorts as time


def _model_args(results: dict[str, Any]) -> dict[str, Any]:
    args = (results.get("config") or {}).get("model_args") or {}
    if isinstance(args, str):  # "model=...,base_url=..." as given on the command line
        args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
    return dict(args)


def task_config(cfg: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """What of a task's config makes its prompts and scores: its config without the model's
    arguments lm-eval copies into `metadata` or the data files' paths on this host (lm-eval's
    doc_hash compares the documents), and the run's prompt settings (chat template, system
    instruction, few-shot as multi-turn, --gen_kwargs)."""
    ours = without(cfg, {"metadata": {k: None for k in cfg.get("metadata") or {} if k != "version"},
                         "dataset_kwargs": {"data_files": None}})
    ours["run"] = {"chat_template_sha": results.get("chat_template_sha"), "system_instruction_sha": results.get("system_instruction_sha"),
                   "fewshot_as_multiturn": results.get("fewshot_as_multiturn"),
                   "gen_kwargs": (results.get("config") or {}).get("gen_kwargs") or {}}
    return ours


def _argument(line: dict[str, Any], index: int) -> tuple[Any, Any]:
    """(context, continuation or generation kwargs) of a request, from either way lm-eval logs them."""
    args = line.get("arguments") or {}
    value = args.get(f"gen_args_{index}") if isinstance(args, dict) else None
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value, None
    if not isinstance(value, dict):
        return None, None
    context = value.get("arg_0")
    return (context[0] if isinstance(context, list) and len(context) == 1 else context), value.get("arg_1")


def _aggregations(cfg: dict[str, Any]) -> dict[str, Any]:
    return {str(m.get("metric")): m.get("aggregation") for m in cfg.get("metric_list") or [] if isinstance(m, dict)}


def _paired_metrics(lines: list[dict[str, Any]], cfg: dict[str, Any]) -> tuple[dict[tuple[str, str], str], list[str]]:
    """(metric, filter) -> our metric name, for lm-eval's per-sample means; and the metrics left out."""
    aggregation = _aggregations(cfg)
    keep, left = {}, []
    for line in lines[:50]:
        for metric in line.get("metrics") or []:
            value = line.get(metric)
            name = metric if line.get("filter", "none") == "none" else f"{metric},{line['filter']}"
            if isinstance(value, (int, float)) and aggregation.get(metric) in _MEAN:  # bool is an int: acc of greedy
                keep[(metric, str(line.get("filter", "none")))] = name
            elif name not in left:
                left.append(name)
    return keep, [m for m in left if m not in keep.values()]


def _choices(line: dict[str, Any]) -> tuple[list[Choice], str | None]:
    """A log-likelihood item's choices (lm-eval's logged continuations and log-likelihoods) and the
    one with the highest (acc's choice)."""
    responses = line.get("filtered_resps") or []
    choices = []
    for index, response in enumerate(responses):
        loglik = response[0] if isinstance(response, (list, tuple)) else response
        continuation = _argument(line, index)[1]
        label = continuation.strip() if isinstance(continuation, str) and continuation.strip() else str(index)
        choices.append(Choice(label=label, loglik=float(loglik)))
    if len({c.label for c in choices}) != len(choices):  # two continuations alike: their places tell them apart
        choices = [Choice(label=str(i), loglik=c.loglik) for i, c in enumerate(choices)]
    best = max(choices, key=lambda c: c.loglik).label if len(choices) > 1 else None
    return choices, str(best) if best is not None else None


def _sample(task: str, doc_lines: list[dict[str, Any]], metrics: dict[tuple[str, str], str], output_type: str) -> Sample:
    first = doc_lines[0]
    context = _argument(first, 0)[0]
    scores = {name: float(line[metric]) * POINTS for line in doc_lines for (metric, filt), name in metrics.items()
              if line.get("filter", "none") == filt and metric in line}
    filtered = {str(line.get("filter", "none")): line.get("filtered_resps") for line in doc_lines}
    sample = Sample(dataset=task, id=str(first["doc_id"]),
                    prompt_sha256=input_sha256(first.get("doc_hash"), first.get("prompt_hash"), first.get("target_hash")),
                    prompt_scripts=prompt_scripts(context) if isinstance(context, str) else None,
                    reference=first.get("target"), scores=scores)
    if output_type in _LOGLIK_TYPES:
        sample.choices, sample.chosen = _choices(first)
        target = str(first.get("target"))
        if output_type == "multiple_choice" and target.isdigit() and int(target) < len(sample.choices):
            sample.reference = sample.choices[int(target)].label
    else:
        responses = first.get("resps") or [[None]]
        sample.prediction = responses[0][0] if isinstance(responses[0], list) and responses[0] else responses[0]
        extracted = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in filtered.items()}
        sample.extracted = next(iter(extracted.values())) if len(extracted) == 1 else extracted
    return sample


def _dataset(task: str, cfg: dict[str, Any], lines: list[dict[str, Any]], results: dict[str, Any],
             samples_file: Path) -> ScoredDataset | str:
    """The task's samples and record; or why it cannot be imported."""
    output_type = str(cfg.get("output_type", ""))
    if output_type == "loglikelihood_rolling":
        return f"{task}: a rolling log-likelihood (perplexity) task; its scores are corpus-level, with no per-sample score to pair"
    metrics, left = _paired_metrics(lines, cfg)
    if not metrics:
        return f"{task}: its metrics ({', '.join(left) or 'none logged'}) are not per-sample means; nothing pairs sample by sample"
    by_doc: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        if "doc_id" not in line:
            raise UserError(f"{samples_file}: a line has no doc_id; it is not an lm-eval samples file")
        by_doc.setdefault(int(line["doc_id"]), []).append(line)
    samples = [_sample(task, by_doc[d], metrics, output_type) for d in sorted(by_doc)]
    scores = results.get("results", {}).get(task, {})
    ours = task_config(cfg, results)
    dataset_path = cfg.get("dataset_path")
    record = DatasetRecord(
        config=task, path=f"{dataset_path}/{cfg['dataset_name']}" if cfg.get("dataset_name") else dataset_path, files={},
        samples=len(samples), prompt_config_sha256=input_sha256(ours),
        metrics={name: float(scores[f"{m},{f}"]) * POINTS for (m, f), name in metrics.items()
                 if isinstance(scores.get(f"{m},{f}"), (int, float))},
        records=((results.get("n-samples") or {}).get(task) or {}).get("original"),
        scoring=CONTINUATION if output_type in _LOGLIK_TYPES else None, task_config=ours)
    return ScoredDataset(record, samples)


def _leaves(group: str, children: dict[str, list[str]]) -> list[str]:
    return [leaf for child in children.get(group, []) for leaf in (_leaves(child, children) if child in children else [child])]


def _leaf_weights(group: str, children: dict[str, list[str]], sizes: dict[str, int], by_size: bool) -> dict[str, float]:
    """Each task's share of a group's score: by size (lm-eval's weight_by_size: every document
    counts once), or each child's equally, down the tree."""
    if by_size:
        return {leaf: float(sizes[leaf]) for leaf in _leaves(group, children)}
    kids = children.get(group, [])
    out: dict[str, float] = {}
    for child in kids:
        below = _leaf_weights(child, children, sizes, False) if child in children else {child: 1.0}
        total = sum(below.values())
        out.update({leaf: w / total / len(kids) for leaf, w in below.items()})
    return out


def _groups(results: dict[str, Any], datasets: dict[str, ScoredDataset], limit: int | None) -> tuple[list[BenchmarkGroup], list[str]]:
    """lm-eval's groups over the imported tasks. The results file does not say how a group
    averaged its tasks: the weighting that gives lm-eval's own group score is the one it used;
    a group whose score neither reproduces is left to its tasks, with the reason."""
    children = {str(g): [str(c) for c in kids] for g, kids in (results.get("group_subtasks") or {}).items() if kids}
    sizes = {abbr: d.record.samples for abbr, d in datasets.items()}
    found, notes = [], []
    for name, row in (results.get("groups") or {}).items():
        leaves = _leaves(name, children)
        if not leaves or not set(leaves) <= set(datasets):
            continue
        for key, reported in row.items():
            metric = key.removesuffix(",none")  # our name for lm-eval's "acc,none" / "exact_match,flexible-extract"
            if metric is None or not isinstance(reported, (int, float)) or any(metric not in datasets[t].record.metrics for t in leaves):
                continue
            for by_size in (True, False):
                weights = _leaf_weights(name, children, sizes, by_size)
                score = sum(w * datasets[t].record.metrics[metric] for t, w in weights.items()) / sum(weights.values())
                if abs(score - float(reported) * POINTS) < 1e-6:
                    flat = not by_size and all(child not in children for child in children[name])
                    found.append(BenchmarkGroup(name=str(name), subsets=leaves, total_subsets=len(leaves),
                                                subset_metrics=dict.fromkeys(leaves, metric), weights=None if flat else weights,
                                                limit=limit, scores={metric: float(reported) * POINTS}, source="lm-eval"))
                    break
            else:
                notes.append(f"group {name}: its {key} is not an average of its tasks' scores that benchmark-eval can reproduce; "
                             "signed off task by task")
            break  # the group's first metric: the one it leads with
    return found, notes


def read_lmeval(path: Path, model: str | None = None, wanted: tuple[str, ...] | None = None) -> ScoredRun:
    results_file = _pick_results(path.resolve(), model)
    results = read_json(results_file, "lm-eval results file")
    if not isinstance(results, dict) or not isinstance(results.get("configs"), dict):
        raise UserError(f"{results_file} has no task configs; it is not an lm-eval results file")
    stamp = results_file.stem.removeprefix("results_")
    tasks = list(results["configs"])
    if wanted:
        unknown = [w for w in wanted if w not in tasks]
        if unknown:
            raise UserError(f"--datasets: {', '.join(unknown)} not in {results_file.name} (its tasks: {', '.join(tasks[:6])}"
                            f"{', ...' if len(tasks) > 6 else ''}); name lm-eval tasks")
        tasks = [t for t in tasks if t in wanted]
    datasets, refused = {}, []
    for task in tasks:
        samples_file = results_file.parent / f"samples_{task}_{stamp}.jsonl"
        if not samples_file.is_file():
            raise UserError(f"{task} has no samples file in {results_file.parent} ({samples_file.name}): run lm-eval with "
                            "--log_samples; without per-sample results nothing can be paired")
        found = _dataset(task, results["configs"][task], read_jsonl(samples_file, "lm-eval"), results, samples_file)
        if isinstance(found, str):
            refused.append(found)
        else:
            datasets[task] = found
    if not datasets:
        raise UserError(f"nothing in {results_file} can be imported: {'; '.join(refused)}")
    raw_limit = (results.get("config") or {}).get("limit")
    limit = int(raw_limit) if isinstance(raw_limit, (int, float)) and raw_limit >= 1 and raw_limit == int(raw_limit) else None
    groups, notes = _groups(results, datasets, limit)
    args = _model_args(results)
    served = str(args.get("model") or results.get("model_name") or results_file.parent.name)
    return ScoredRun(
        tool="lm-eval", folder=results_file.parent, config_file=results_file,
        model_type=str((results.get("config") or {}).get("model") or results.get("model_source") or "unknown"),
        model=ModelInfo(name=served, served=served, abbr=str(results.get("model_name_sanitized") or results_file.parent.name),
                        tokenizer_path=str(args["tokenizer"]) if args.get("tokenizer") else None),
        model_abbr=str(results.get("model_name_sanitized") or results_file.parent.name), datasets=datasets, groups=groups,
        packages={k: str(results[v]) for k, v in (("lm_eval", "lm_eval_version"), ("transformers", "transformers_version")) if results.get(v)},
        limit=limit, stamp=stamp, refused=refused + notes)
