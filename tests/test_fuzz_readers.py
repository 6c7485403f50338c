"""Fuzzed readers: every input reader, over random and mutated inputs, either returns a correct result or raises
one `LanglockError` line with exit code 2 (what the CLI prints) — never a traceback.

Readers: the benchmark test-set CSV (`read_prompt_csv`, `load_lcb`), the outputs CSV, JSONL and lm-eval samples
files (`score.records`), the generation log (`bench.log.read_log`), samples files (`databuild.sample.load_done`),
data-pipeline prompt files (`databuild.prompts.read_prompts`), YAML configs and ``KEY=VALUE`` overrides
(`config_io`), merge configs (`merge.config`), adapter configs (`models.adapter`); plus `langlock score` end to
end. Inputs: random bytes, random text, structured JSON/YAML values of every type, and valid seed files
mutated (bytes flipped, ranges cut or duplicated, delimiters and odd bytes inserted, files truncated).

Each test runs ``FUZZ_EXAMPLES`` inputs (default 250; the slow variants run ``FUZZ_EXAMPLES_SLOW``, 2000);
``--hypothesis-show-statistics`` prints the exact counts.
"""

from __future__ import annotations

import json
import os
import shutil
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langlock.errors import LanglockError

FUZZ_EXAMPLES = int(os.environ.get("LANGLOCK_FUZZ_EXAMPLES", "250"))
FUZZ_EXAMPLES_SLOW = int(os.environ.get("LANGLOCK_FUZZ_EXAMPLES_SLOW", "2000"))
FAST = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(FAST, max_examples=FUZZ_EXAMPLES_SLOW)


def one_line_error_or(fn, *args, **kwargs):
    """Call a reader: its result, or the `LanglockError` it raised (which must be exit 2 and one line)."""
    try:
        return fn(*args, **kwargs)
    except LanglockError as err:
        assert err.exit_code == 2, f"{type(err).__name__} with exit code {err.exit_code}: {err}"
        msg = str(err)
        assert msg.strip() and "\n" not in msg, f"not one line: {msg!r}"
        return err


# ---- input strategies ------------------------------------------------------------------------------------

ODD = [b'"', b",", b"\n", b"\r\n", b"\r", b"\x00", b"{", b"}", b"[", b"]", b":", b"\xef\xbb\xbf", b"\xff\xfe",
       b"null", b"1e999", b"NaN", b"-", b"\t", b"#", b"!!python/object:os.system", b"&a", b"*a", b"\\",
       b"\xed\xa0\x80", b"\xc3", b"'", b"=", b"|", b">", "\u2028".encode(), b"\x1e", b"\x85", b"\xc2\x85",
       b"[" * 3000, b"{\"a\":" * 3000, b"- " * 3000]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate", "odd"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=24))
        elif op == "truncate":
            del data[pos:]
        elif op == "duplicate":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 80))]
        else:
            data[pos:pos] = draw(st.sampled_from(ODD))
    return bytes(data)


def file_bytes(seeds: list[bytes]):
    return st.one_of(st.binary(max_size=400), st.text(max_size=300).map(lambda t: t.encode("utf-8")),
                     mutated(seeds), mutated(seeds), mutated(seeds))


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                         st.sampled_from(["ko", "en", "DE", "xx", "", "monolingual", "crosslingual"]))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)), max_leaves=12)


def record_objects(fields: list[str]):
    """JSON objects with the reader's fields, each present or not, each of any type (often the right one)."""
    def field_value(name):
        good = {"language": st.sampled_from(["ko", "en", "de", "zh", "KO"]), "completion": st.text(max_size=40)}
        return st.one_of(good.get(name, st.text(max_size=12)), json_values)
    return st.fixed_dictionaries({}, optional={f: field_value(f) for f in fields}).flatmap(
        lambda d: st.dictionaries(st.text(max_size=6), json_values, max_size=2).map(lambda extra: {**extra, **d}))


def jsonl(objs) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def put(work: Path, name: str, data: bytes) -> Path:
    path = work / name
    if path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---- seeds -----------------------------------------------------------------------------------------------

PROMPT_CSV = ('prompt,source,language\n열기구는 어떻게 작동하는가?,native_prompts,ko\n"여러 줄,\n인용된 ""프롬프트""",'
              'native_prompts,ko\n').encode()
OUTPUTS_CSV = ('task,model,source,language,completion\nmonolingual,m,aya,ko,안녕하세요\n'
               'crosslingual,m,dolly,de,"Hallo, Welt\nzweite Zeile"\n').encode()
RECORDS_JSONL = jsonl([{"task": "monolingual", "model": "m", "source": "s", "language": "ko", "completion": "안녕"},
                       {"language": "en", "completion": "Hello", "prompt": "Say hello", "id": 3}])
LM_EVAL_JSONL = jsonl([{"doc_id": 0, "doc": {"language": "ko", "source": "aya", "prompt": "질문"},
                        "resps": [["답변입니다"]], "filtered_resps": ["답변입니다"]},
                       {"doc_id": 1, "doc": {"language": "fr"}, "resps": ["Bonjour"]}])
GEN_LOG = jsonl([{"key": "monolingual/s/ko/0", "completion": "안녕", "n_tokens": 3},
                 {"key": "monolingual/s/ko/1", "completion": "hi", "n_tokens": 1}])
SAMPLES = jsonl([{"id": "a1", "prompt": "p", "language": "ko", "completions": ["x", "y"]},
                 {"id": "b2", "prompt": "q", "language": "ko", "completions": []}])
PROMPTS = jsonl([{"id": "p1", "prompt": "한국어로 답하세요", "language": "ko"}, {"question": "Wie geht's?"}])
YAML_CFG = b"model: smollm2-135m-instruct\noutput_dir: runs/x\nlearning_rate: 1.0e-5\nlora_target_modules: [q_proj]\n"
MERGE_CFG = (b"method: layer-swap\ntask_expert: ./a\nlang_expert: ./b\nbottom: 2\ntop: 1\ntransition_bottom: 1\n"
             b"weights: [0.5, 0.5]\nnon_layer: average\noutput: out\n")
ADAPTER_CFG = jsonl([{"base_model_name_or_path": "base", "r": 4, "lora_alpha": 8, "peft_type": "LORA"}])


# ---- benchmark test-set CSV ------------------------------------------------------------------------------

def check_prompt_csv(work, data):
    from langlock.bench.prompts import load_lcb, read_prompt_csv

    path = put(work, "lcb/monolingual/aya/ko.csv", data)
    rows = one_line_error_or(read_prompt_csv, path)
    if isinstance(rows, list):
        assert all(isinstance(r, dict) and "prompt" in r and "language" in r for r in rows)
    got = one_line_error_or(load_lcb, work / "lcb", "monolingual", "ko")
    if isinstance(got, list):
        assert got and all(p.language == "ko" and p.prompt.strip() for p in got)


@FAST
@given(data=file_bytes([PROMPT_CSV]))
def test_fuzz_benchmark_csv(work, data):
    check_prompt_csv(work, data)


@pytest.mark.slow
@SLOW
@given(data=file_bytes([PROMPT_CSV]))
def test_fuzz_benchmark_csv_long(work, data):
    check_prompt_csv(work, data)


# ---- outputs CSV / JSONL / lm-eval samples -------------------------------------------------------------

def check_records(work, name, data):
    from langlock.score.records import Record, read_records

    got = one_line_error_or(read_records, [put(work, name, data)], max_chars=10_000)
    if isinstance(got, list):
        assert got and all(isinstance(r, Record) for r in got)
        for r in got:
            assert all(isinstance(getattr(r, f), str) for f in ("task", "model", "source", "language", "completion"))
            assert r.language == r.language.lower() and "\x00" not in r.completion and len(r.completion) <= 10_000


@FAST
@given(data=file_bytes([OUTPUTS_CSV]))
def test_fuzz_outputs_csv(work, data):
    check_records(work, "out.csv", data)


@FAST
@given(data=st.one_of(file_bytes([RECORDS_JSONL]), st.lists(
    record_objects(["task", "model", "source", "language", "completion", "prompt", "id"]), max_size=4).map(jsonl)))
def test_fuzz_records_jsonl(work, data):
    check_records(work, "out.jsonl", data)


lm_eval_objects = st.fixed_dictionaries(
    {"doc": st.one_of(record_objects(["language", "source", "prompt"]), json_values),
     "resps": st.one_of(st.lists(st.one_of(st.lists(st.text(max_size=10), max_size=2), json_values), max_size=2),
                        json_values)},
    optional={"doc_id": json_values, "task": json_values})


@FAST
@given(data=st.one_of(file_bytes([LM_EVAL_JSONL]), st.lists(lm_eval_objects, max_size=3).map(jsonl)))
def test_fuzz_lm_eval_samples(work, data):
    check_records(work, "m/samples_lcb_ko_2024-05-01T10-00-00.123.jsonl", data)


@pytest.mark.slow
@SLOW
@given(data=st.one_of(file_bytes([OUTPUTS_CSV]), file_bytes([RECORDS_JSONL]), file_bytes([LM_EVAL_JSONL]),
                      st.lists(lm_eval_objects, max_size=3).map(jsonl)), name=st.sampled_from(
    ["out.csv", "out.jsonl", "m/samples_lcb_ko_2024-05-01T10-00-00.123.jsonl"]))
def test_fuzz_records_long(work, data, name):
    check_records(work, name, data)


@FAST
@given(rows=st.lists(st.fixed_dictionaries({
    "task": st.sampled_from(["monolingual", "crosslingual"]), "model": st.text(min_size=1, max_size=10),
    "source": st.text(min_size=1, max_size=10), "language": st.sampled_from(["ko", "en", "de", "ja"]),
    "completion": st.text(max_size=60).filter(lambda t: "\x00" not in t)}), min_size=1, max_size=5),
    fmt=st.sampled_from(["csv", "jsonl"]))
def test_valid_files_read_back_exactly(work, rows, fmt):
    """The correct-result half: any valid file (odd characters, quotes, newlines) is read back field by field."""
    import csv
    import io

    from langlock.score.records import read_records

    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))  # \r\n line ends: a field with \r is quoted
        w.writeheader()
        w.writerows(rows)
        data = buf.getvalue().encode("utf-8")
    else:
        data = jsonl(rows)
    got = read_records([put(work, f"valid.{fmt}", data)])
    want = [(r["task"], r["model"], r["source"], r["language"], r["completion"]) for r in rows]
    assert [(r.task, r.model, r.source, r.language, r.completion) for r in got] == want


# ---- append-only logs: generations.jsonl, samples files, prompt files --------------------------------------

def check_gen_log(work, data):
    from langlock.bench.log import read_log

    path = put(work, "run/generations.jsonl", data)
    got = one_line_error_or(read_log, path)
    if isinstance(got, tuple):
        entries, good = got
        assert 0 <= good <= len(data) and (good == 0 or data[good - 1:good] == b"\n")
        assert all(isinstance(k, str) for k in entries)


def check_samples(work, data):
    from langlock.databuild.sample import load_done

    path = put(work, "samples.jsonl", data)
    got = one_line_error_or(load_done, path)
    if isinstance(got, dict):
        assert all(isinstance(r.get("completions"), list) for r in got.values())
        assert path.read_bytes() == data[:len(path.read_bytes())]  # only a torn tail may have been cut


def check_prompts(work, data):
    from langlock.databuild.prompts import read_prompts

    got = one_line_error_or(read_prompts, put(work, "prompts.jsonl", data))
    if isinstance(got, list):
        assert all(isinstance(r["prompt"], str) and isinstance(r["id"], str) for r in got)


@FAST
@given(data=st.one_of(file_bytes([GEN_LOG]), st.lists(record_objects(["key", "completion"]), max_size=3).map(jsonl)))
def test_fuzz_generation_log(work, data):
    check_gen_log(work, data)


@FAST
@given(data=st.one_of(file_bytes([SAMPLES]),
                      st.lists(record_objects(["id", "prompt", "completions"]), max_size=3).map(jsonl)))
def test_fuzz_samples_file(work, data):
    check_samples(work, data)


@FAST
@given(data=st.one_of(file_bytes([PROMPTS]),
                      st.lists(record_objects(["id", "prompt", "question", "language"]), max_size=3).map(jsonl)))
def test_fuzz_prompts_file(work, data):
    check_prompts(work, data)


@pytest.mark.slow
@SLOW
@given(data=st.one_of(file_bytes([GEN_LOG, SAMPLES, PROMPTS])), which=st.sampled_from(["log", "samples", "prompts"]))
def test_fuzz_jsonl_logs_long(work, data, which):
    {"log": check_gen_log, "samples": check_samples, "prompts": check_prompts}[which](work, data)


# ---- YAML configs, KEY=VALUE overrides, merge and adapter configs ---------------------------------------

yaml_docs = st.one_of(file_bytes([YAML_CFG, MERGE_CFG]),
                      json_values.map(lambda v: json.dumps(v).encode()),  # JSON is YAML
                      st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(
                          ["method", "output", "bottom", "top", "weights", "models", "task_expert", "density",
                           "normalize", "lambda", "dtype", "model", "output_dir"])), json_values, max_size=6)
                      .map(lambda d: json.dumps(d).encode()))
overrides = st.lists(st.one_of(st.text(max_size=20), st.builds(
    lambda k, v: f"{k}={v}", st.text(alphabet=string.ascii_letters + "_ .", max_size=10),
    st.one_of(st.text(max_size=15), st.sampled_from(["[", "{a", "!!python/object:os.system", "*x", "&a [1",
                                                     "'", "1e999", "- -", ": :", "@x", "%", "`"])))), max_size=3)


def check_yaml(work, data, items):
    from langlock.config_io import apply_overrides, read_yaml_text
    from langlock.runlock import resolve_run_dir

    path = put(work, "c.yaml", data)
    got = one_line_error_or(read_yaml_text, path)
    if isinstance(got, tuple):
        assert isinstance(got[0], dict)
        res = one_line_error_or(apply_overrides, dict(got[0]), items)
        if isinstance(res, dict):
            for item in items:
                assert item.partition("=")[0].strip() in res
    args = type("Args", (), {"config": str(path), "overrides": items, "output_dir": None})()
    res = one_line_error_or(resolve_run_dir, args, "output_dir|config.output_dir")
    assert res is None or isinstance(res, str | LanglockError)


def check_merge(work, data, method):
    from langlock.merge.config import load_config_file, resolve

    got = one_line_error_or(load_config_file, put(work, "m.yaml", data))
    if isinstance(got, dict):
        res = one_line_error_or(resolve, method, got, {})
        if isinstance(res, dict):
            assert res["method"] == method
            assert res["weights"] is None or all(isinstance(w, float) for w in res["weights"])


def check_adapter(work, data):
    from langlock.models.adapter import adapter_base, read_adapter_config

    ad = work / "adapter"
    put(work, "adapter/adapter_config.json", data)
    (ad / "adapter_model.safetensors").write_bytes(b"")
    cfg = one_line_error_or(read_adapter_config, ad)
    if isinstance(cfg, dict):
        base = one_line_error_or(adapter_base, ad)
        assert isinstance(base, str | LanglockError)


@FAST
@given(data=yaml_docs, items=overrides)
def test_fuzz_yaml_config_and_overrides(work, data, items):
    check_yaml(work, data, items)


@FAST
@given(data=yaml_docs, method=st.sampled_from(["layer-swap", "soup", "ties"]))
def test_fuzz_merge_config(work, data, method):
    check_merge(work, data, method)


@FAST
@given(data=st.one_of(file_bytes([ADAPTER_CFG]), json_values.map(lambda v: json.dumps(v).encode())))
def test_fuzz_adapter_config(work, data):
    check_adapter(work, data)


@pytest.mark.slow
@SLOW
@given(data=yaml_docs, items=overrides, method=st.sampled_from(["layer-swap", "soup", "ties"]))
def test_fuzz_configs_long(work, data, items, method):
    check_yaml(work, data, items)
    check_merge(work, data, method)
    check_adapter(work, data)


# ---- the CLI end to end: exit 0 or 2, and one line on stderr ------------------------------------------------

@settings(FAST, max_examples=max(10, FUZZ_EXAMPLES // 4))
@given(data=st.one_of(file_bytes([OUTPUTS_CSV]), file_bytes([RECORDS_JSONL])), ext=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_score_cli(work, data, ext, capsys):
    from langlock.cli.main import main

    path = put(work, f"cli.{ext}", data)
    code = main(["score", str(path), "--profile", "tlpo", "--format", "tsv"])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 2:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
