"""Converters: small raw sources written here, outputs checked field by field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from benchmark_eval.data.convert import convert_xsum, write_conversion
from benchmark_eval.data.convert.ceval import convert_ceval
from benchmark_eval.data.convert.mmlu import convert_mmlu

from ..conftest import assert_one_line_error, run_cli

ARTICLES = {"101": ("The first article.\nIt has two lines.", "First summary."),
            "202": ("Второй текст, UTF-8.", "Second summary."),
            "303": ("", "Summary without an article.")}


def _summary_file(body: str, summary: str) -> str:
    return (f"[SN]URL[SN]\nhttp://www.bbc.co.uk/news/x\n\n[SN]TITLE[SN]\nA title\n\n"
            f"[SN]FIRST-SENTENCE[SN]\n{summary}\n\n[SN]RESTBODY[SN]\n{body}\n")


def _lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "data/Xsum/dev.jsonl").read_text(encoding="utf-8").splitlines()]


def test_xsum_from_the_original_release(tmp_path: Path) -> None:
    release = tmp_path / "bbc-summary-data"
    release.mkdir()
    for bbcid, (body, summary) in ARTICLES.items():
        (release / f"{bbcid}.summary").write_text(_summary_file(body, summary), encoding="utf-8")
    (release / "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json").write_text(
        json.dumps({"train": ["101"], "validation": [], "test": ["202", "101", "303", "404"]}))
    done = run_cli(["data", "convert", "xsum", "--from", str(release), "--out", str(tmp_path / "out")])
    assert done.returncode == 0, done.stderr
    assert _lines(tmp_path / "out") == [
        {"id": 202, "dialogue": "Второй текст, UTF-8.", "summary": "Second summary."},
        {"id": 101, "dialogue": "The first article.\nIt has two lines.", "summary": "First summary."},
    ]
    assert "skipped 303: empty article" in done.stdout and "skipped 404: no .summary file" in done.stdout
    assert "2 records written, 2 skipped" in done.stdout


def test_xsum_from_csv_and_jsonl_and_parquet_agree(tmp_path: Path) -> None:
    rows = [{"id": k, "dialogue": b, "summary": s} for k, (b, s) in ARTICLES.items()]
    csv_path = tmp_path / "xsum.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["id", "dialogue", "summary"], lineterminator="\r\n")  # CRLF source
        writer.writeheader()
        writer.writerows(rows)
    hf_rows = [{"document": r["dialogue"], "summary": r["summary"], "id": r["id"]} for r in rows]
    jsonl_path = tmp_path / "xsum.jsonl"
    jsonl_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in hf_rows), encoding="utf-8")
    parquet_path = tmp_path / "xsum.parquet"
    pd.DataFrame(hf_rows).to_parquet(parquet_path)
    outputs = []
    for source in (csv_path, jsonl_path, parquet_path):
        result = convert_xsum(source)
        write_conversion(result, tmp_path / source.suffix[1:], force=False)
        outputs.append(_lines(tmp_path / source.suffix[1:]))
        assert result.skipped == [("303", "empty article")]
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][0] == {"id": 101, "dialogue": "The first article.\nIt has two lines.", "summary": "First summary."}
    assert [line["id"] for line in outputs[0]] == [101, 202]


def test_conversion_never_overwrites_without_force(tmp_path: Path) -> None:
    source = tmp_path / "x.jsonl"
    source.write_text(json.dumps({"id": "1", "document": "a", "summary": "b"}) + "\n")
    out = tmp_path / "out"
    assert run_cli(["data", "convert", "xsum", "--from", str(source), "--out", str(out)]).returncode == 0
    before = (out / "data/Xsum/dev.jsonl").read_text()
    source.write_text(json.dumps({"id": "2", "document": "c", "summary": "d"}) + "\n")
    done = run_cli(["data", "convert", "xsum", "--from", str(source), "--out", str(out)])
    assert_one_line_error(done, 2, "exists", "--force")
    assert (out / "data/Xsum/dev.jsonl").read_text() == before
    assert run_cli(["data", "convert", "xsum", "--from", str(source), "--out", str(out), "--force"]).returncode == 0
    assert _lines(out)[0]["id"] == 2


def test_xsum_source_without_the_columns_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("id,text\n1,hello\n")
    done = run_cli(["data", "convert", "xsum", "--from", str(source), "--out", str(tmp_path / "out")])
    assert_one_line_error(done, 2, "lacks the columns", "dialogue")
    assert not (tmp_path / "out").exists()


def test_mmlu_from_the_hugging_face_export(tmp_path: Path) -> None:
    source = tmp_path / "mmlu.parquet"
    pd.DataFrame([
        {"question": "2+2?", "subject": "elementary_mathematics", "choices": ["3", "4", "5", "6"], "answer": 1},
        {"question": "Capital, of France?", "subject": "geography", "choices": ["Paris", "Rome", "Oslo", "Bern"], "answer": 0},
        {"question": "bad", "subject": "geography", "choices": ["a", "b"], "answer": 0},
    ]).to_parquet(source)
    result = convert_mmlu(source, split="test")
    write_conversion(result, tmp_path, force=False)
    rows = list(csv.reader((tmp_path / "data/mmlu/test/geography_test.csv").read_text(encoding="utf-8").splitlines()))
    assert rows == [["Capital, of France?", "Paris", "Rome", "Oslo", "Bern", "A"]]
    rows = list(csv.reader((tmp_path / "data/mmlu/test/elementary_mathematics_test.csv").read_text(encoding="utf-8").splitlines()))
    assert rows == [["2+2?", "3", "4", "5", "6", "B"]]
    assert result.skipped == [("2", "choices is not a list of 4")]


def test_ceval_from_the_hugging_face_export(tmp_path: Path) -> None:
    source = tmp_path / "computer_network.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [
        {"id": 0, "question": "网络?", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "C", "explanation": ""},
        {"id": 1, "question": "坏", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "E", "explanation": ""},
    ]), encoding="utf-8")
    result = convert_ceval(source, split="val", subject="computer_network")
    write_conversion(result, tmp_path, force=False)
    rows = list(csv.DictReader((tmp_path / "data/ceval/formal_ceval/val/computer_network_val.csv").read_text(encoding="utf-8").splitlines()))
    assert rows == [{"id": "0", "question": "网络?", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "C", "explanation": ""}]
    assert result.skipped[0][0] == "1"


def test_unknown_converter_and_missing_source(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(["data", "convert", "gsm8k", "--from", str(tmp_path), "--out", str(tmp_path)]), 2,
                          "no converter for 'gsm8k'")
    assert_one_line_error(run_cli(["data", "convert", "xsum", "--from", str(tmp_path / "nope"), "--out", str(tmp_path)]), 2,
                          "does not exist")
