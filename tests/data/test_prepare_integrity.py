"""prepare keeps its promises: reproducible output, no clobbering of --out, and only the input
formats it can read (text, JSONL, Parquet), each read as what it is."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from electra import cli
from electra.config import PrepareConfig
from electra.data import text
from electra.data.prepare import prepare
from electra.data.text import TextStats, iter_documents, resolve_inputs
from electra.errors import ElectraError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "corpus"
CFG = dict(vocab_size=1000, max_seq_len=32, examples_per_shard=256)
FLAGS = ["--vocab-size", "1000", "--max-seq-len", "32", "--examples-per-shard", "256"]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under ``folder`` with its bytes and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def rows(out: Path, meta: dict) -> np.ndarray:
    return np.concatenate([np.load(out / s["file"]) for s in meta["shards"]])


def fixture_documents() -> list[list[str]]:
    return list(iter_documents(resolve_inputs([FIXTURES]), TextStats(), warn=False))


def write_jsonl(path: Path, records: list, opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


# ---------------------------------------------------------------- reproducible


def run_prepare(out: Path, threads: int, workers: int) -> None:
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads), "RAYON_RS_NUM_CPUS": str(threads)}
    env.pop("TOKENIZERS_PARALLELISM", None)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "electra",
            "prepare",
            str(FIXTURES),
            "--out",
            str(out),
            *FLAGS,
            "--workers",
            str(workers),
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )


def test_two_prepares_give_identical_files_whatever_the_threads(tmp_path):
    """The tokenizer trainer's hash-map order used to change the vocabulary from run to run."""
    run_prepare(tmp_path / "one", threads=1, workers=1)
    run_prepare(tmp_path / "many", threads=4, workers=2)
    one, many = digests(tmp_path / "one"), digests(tmp_path / "many")
    assert {"vocab.txt", "tokenizer.json", "meta.json", "part-00000-000.npy", "part-00001-000.npy"} <= set(one)
    assert one == many  # every file, byte for byte: meta.json and the markers included


def test_meta_records_each_shards_checksum(tmp_path):
    out = tmp_path / "out"
    meta = prepare([FIXTURES], out, PrepareConfig(**CFG), progress=False)
    assert len(meta["shards"]) > 2
    for shard in meta["shards"]:
        assert shard["sha256"] == hashlib.sha256((out / shard["file"]).read_bytes()).hexdigest()


# ---------------------------------------------------------------- --out is never clobbered


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A finished data folder of the fixture corpus (copy it before changing it)."""
    out = tmp_path_factory.mktemp("built") / "data"
    prepare([FIXTURES], out, PrepareConfig(**CFG), progress=False)
    return out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    target.mkdir()
    for path in folder.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
        os.utime(target / path.name, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    return target


@pytest.mark.parametrize(
    "change, named",
    [
        (dict(inputs=[FIXTURES / "austen_sample.txt.gz"]), "mobydick_sample.txt.gz no longer given"),
        (dict(max_seq_len=64), "max_seq_len 32 -> 64"),
        (dict(seed=7), "seed 1234 -> 7"),
        (dict(vocab_size=900), "vocab_size 1000 -> 900"),
        (dict(text_field="body"), "text_field 'text' -> 'body'"),
    ],
)
def test_other_data_is_refused_untouched_then_replaced_with_overwrite(built, tmp_path, change, named):
    out = copy_of(built, tmp_path)
    inputs = change.pop("inputs", [FIXTURES])
    text_field = change.pop("text_field", "text")
    cfg = PrepareConfig(**{**CFG, **change})
    before = snapshot(out)
    with pytest.raises(ElectraError, match="holds other data") as error:
        prepare(inputs, out, cfg, progress=False, text_field=text_field)
    assert named in str(error.value) and "--overwrite" in str(error.value)
    assert snapshot(out) == before  # nothing modified
    meta = prepare(inputs, out, cfg, progress=False, text_field=text_field, overwrite=True)
    fresh = prepare(inputs, tmp_path / "fresh", cfg, progress=False, text_field=text_field)
    assert meta == fresh
    assert digests(out) == digests(tmp_path / "fresh")  # as if built from scratch: nothing stale mixed in


def test_another_given_tokenizer_is_refused(built, tmp_path):
    out = tmp_path / "out"
    given = PrepareConfig(**CFG, tokenizer=str(built))
    prepare([FIXTURES], out, given, progress=False)
    other = tmp_path / "other"
    prepare([FIXTURES / "austen_sample.txt.gz"], other, PrepareConfig(**CFG), tokenizer_only=True, progress=False)
    before = snapshot(out)
    with pytest.raises(ElectraError, match=r"tokenizer given \(\w+\) -> given"):
        prepare([FIXTURES], out, PrepareConfig(**CFG, tokenizer=str(other)), progress=False)
    assert snapshot(out) == before


def test_a_matching_folder_resumes(built, tmp_path, capsys):
    out = copy_of(built, tmp_path)
    (out / "part-00001.json").unlink()  # as if killed before the last part was done
    (out / "meta.json").unlink()
    capsys.readouterr()
    meta = prepare([FIXTURES], out, PrepareConfig(**CFG), progress=False)
    assert "1 of 2 parts already built" in capsys.readouterr().err
    assert digests(out) == digests(built) and meta == json.loads((built / "meta.json").read_text())


@pytest.mark.parametrize("layout", ["run", "finetune", "stray"])
def test_a_folder_that_is_not_data_is_refused(tmp_path, layout):
    out = tmp_path / "out"
    (out / "checkpoints" / "step-10").mkdir(parents=True)
    if layout == "run":
        (out / "run.json").write_text("{}")
        (out / "metrics.jsonl").write_text("{}\n")
        (out / "checkpoints" / "step-10" / "model.pt").write_bytes(b"weights")
    elif layout == "finetune":
        (out / "results.json").write_text("{}")
        (out / "checkpoints" / "step-10" / "config.json").write_text("{}")
    else:
        (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    for overwrite in (False, True):  # never written into: --overwrite replaces prepared data only
        with pytest.raises(ElectraError, match="not a prepared data folder .* with or without --overwrite"):
            prepare([FIXTURES], out, PrepareConfig(**CFG), progress=False, overwrite=overwrite)
        assert snapshot(out) == before


def test_a_data_folder_with_a_run_inside_is_refused_for_other_data(built, tmp_path):
    out = copy_of(built, tmp_path)
    (out / "run.json").write_text("{}")  # someone pretrained into the data folder
    assert prepare([FIXTURES], out, PrepareConfig(**CFG), progress=False)  # same data: resumes, run kept
    assert (out / "run.json").is_file()
    with pytest.raises(ElectraError, match="not a prepared data folder"):
        prepare([FIXTURES], out, PrepareConfig(**{**CFG, "seed": 3}), progress=False)


def test_a_folder_of_inputs_is_not_an_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    corpus = out / "corpus.txt"
    corpus.write_text("some words here\nand more words\n")
    before = snapshot(out)
    with pytest.raises(ElectraError, match=r"not a prepared data folder \(it holds corpus.txt\)"):
        prepare([corpus], out, PrepareConfig(**CFG), progress=False, overwrite=True)
    assert snapshot(out) == before


def test_cli_refusal_is_one_line_and_bad_combinations_are_errors(built, tmp_path, capsys):
    out = copy_of(built, tmp_path)
    before = snapshot(out)
    assert cli.main(["prepare", str(FIXTURES), "--out", str(out), *FLAGS[:2], "--max-seq-len", "48"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "max_seq_len 32 -> 48" in err
    assert snapshot(out) == before
    assert (
        cli.main(["prepare", str(FIXTURES), "--out", str(out), *FLAGS[:2], "--max-seq-len", "48", "--overwrite"]) == 0
    )
    assert json.loads((out / "meta.json").read_text())["max_seq_len"] == 48

    with pytest.raises(ElectraError, match="--num-shards"):
        prepare([FIXTURES], out, PrepareConfig(**CFG), num_shards=2, overwrite=True, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ElectraError, match="not a folder"):
        prepare([FIXTURES], tmp_path / "file", PrepareConfig(**CFG), progress=False)
    with pytest.raises(ElectraError, match="file is a file"):  # not a traceback from mkdir
        prepare([FIXTURES], tmp_path / "file" / "data", PrepareConfig(**CFG), progress=False)
    assert (tmp_path / "file").read_text() == "x"


# ---------------------------------------------------------------- input formats


@pytest.mark.parametrize("name", ["notes.md", "table.csv", "records.json", "archive.csv.gz", "README"])
def test_an_unsupported_file_is_refused_by_name(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"text": "hello world"}\n')
    with pytest.raises(ElectraError, match=r"cannot read .* files; prepare reads \.txt, \.txt\.gz, \.jsonl") as error:
        prepare([path], tmp_path / "out", PrepareConfig(**CFG), progress=False)
    assert name in str(error.value)
    assert not (tmp_path / "out").exists()


def test_a_folder_walk_reads_every_format_and_notes_the_rest(tmp_path, capsys):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("plain line\n")
    write_jsonl(folder / "sub" / "b.jsonl", [{"text": "json line"}])
    write_jsonl(folder / "c.jsonl.gz", [{"text": "zipped json"}], opener=gzip.open)
    (folder / "notes.md").write_text("# not read\n")
    (folder / "table.csv").write_text("a,b\n")
    (folder / "more.csv").write_text("c,d\n")
    documents = list(iter_documents(resolve_inputs([folder]), TextStats()))
    assert documents == [["plain line"], ["zipped json"], ["json line"]]
    err = capsys.readouterr().err
    assert "skipped 3 file(s) of other types (2 .csv, 1 .md)" in err


def test_the_output_folder_is_left_out_of_a_folder_walk(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("One line of text here.\n\nAnother document of text.\n" * 50)
    prepare([corpus], corpus / "data", PrepareConfig(**CFG), progress=False)
    meta = prepare([corpus], corpus / "data", PrepareConfig(**CFG), progress=False)  # vocab.txt not an input
    assert [Path(i["file"]).name for i in meta["inputs"]] == ["a.txt"]


def test_jsonl_records_are_documents_and_give_the_same_data_as_text(tmp_path):
    docs = fixture_documents()
    records = [{"id": i, "text": "\n".join(doc[:3]) + "\n\n  \n" + "\n".join(doc[3:])} for i, doc in enumerate(docs)]
    half = len(records) // 2
    folder = tmp_path / "jsonl"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", records[:half] + [""])  # a blank line is no record
    write_jsonl(folder / "b.jsonl.gz", records[half:], opener=gzip.open)
    as_text = tmp_path / "text"
    as_text.mkdir()
    (as_text / "a.txt").write_text("\n\n".join("\n".join(d) for d in docs[:half]) + "\n")
    with gzip.open(as_text / "b.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n\n".join("\n".join(d) for d in docs[half:]) + "\n")

    assert list(iter_documents(resolve_inputs([folder]), TextStats())) == docs
    from_jsonl = prepare([folder], tmp_path / "from-jsonl", PrepareConfig(**CFG), progress=False)
    from_text = prepare([as_text], tmp_path / "from-text", PrepareConfig(**CFG), progress=False)
    for key in ("documents", "lines", "examples", "tokens"):
        assert from_jsonl["counts"][key] == from_text["counts"][key]
    assert (tmp_path / "from-jsonl" / "vocab.txt").read_bytes() == (tmp_path / "from-text" / "vocab.txt").read_bytes()
    np.testing.assert_array_equal(rows(tmp_path / "from-jsonl", from_jsonl), rows(tmp_path / "from-text", from_text))


def test_text_field_chooses_the_field(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"body": "first record\nits second line"}, {"body": "second"}])
    expected = r"c\.jsonl:1: record has no 'text' field \(its fields: 'body'\).*--text-field"
    with pytest.raises(ElectraError, match=expected):
        list(iter_documents([path], TextStats()))
    assert list(iter_documents([path], TextStats(), text_field="body")) == [
        ["first record", "its second line"],
        ["second"],
    ]


@pytest.mark.parametrize(
    "bad, message",
    [
        ('{"text": "fine"', r"bad\.jsonl:3: not a JSON record"),
        ("plain words, not JSON", r"bad\.jsonl:3: not a JSON record"),
        ('{"title": "no text"}', r"bad\.jsonl:3: record has no 'text' field"),
        ('{"text": null}', r"bad\.jsonl:3: 'text' is null, not text"),
        ('{"text": ["a", "b"]}', r"bad\.jsonl:3: 'text' is list, not text"),
        ('["text"]', r"bad\.jsonl:3: a JSON list, not an object"),
    ],
)
def test_a_bad_jsonl_line_is_an_error_naming_file_and_line(tmp_path, bad, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"text": "one"}, "", bad, {"text": "four"}])
    with pytest.raises(ElectraError, match=message):
        prepare([path], tmp_path / "out", PrepareConfig(**CFG), progress=False)
    cli_code = cli.main(["prepare", str(path), "--out", str(tmp_path / "cli"), *FLAGS])
    assert cli_code == 2


def test_parquet_rows_are_documents(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    docs = fixture_documents()
    table = pa.table({"id": list(range(len(docs))), "content": ["\n".join(doc) for doc in docs]})
    path = tmp_path / "corpus.parquet"
    pq.write_table(table, path, row_group_size=5)
    assert pq.ParquetFile(path).num_row_groups > 1
    assert list(iter_documents([path], TextStats(), text_field="content")) == docs
    with pytest.raises(ElectraError, match=r"no column 'text' \(columns: id, content\)"):
        list(iter_documents([path], TextStats()))
    pq.write_table(pa.table({"text": ["fine", None]}), tmp_path / "nulls.parquet")
    with pytest.raises(ElectraError, match=r"nulls\.parquet: row 2: 'text' is null"):
        list(iter_documents([tmp_path / "nulls.parquet"], TextStats()))


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "corpus.parquet"
    path.write_bytes(b"PAR1 not really")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ElectraError, match="pip install pyarrow"):
        list(iter_documents([path], TextStats()))


def test_jsonl_escapes_and_long_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "MAX_LINE_CHARS", 10)
    records = ['{"text": "\\u00e9\\ud800"}', {"text": "abcdefghij" * 2 + "xy"}]
    path = write_jsonl(tmp_path / "odd.jsonl", records)
    stats = TextStats()
    documents = list(iter_documents([path], stats))  # a lone surrogate would break the tokenizer
    assert len(documents[0]) == 1 and documents[0][0][0] == "é" and "\ufffd" in documents[0][0]
    assert documents[1] == ["abcdefghij", "abcdefghij", "xy"]
    assert stats.replaced_lines == 1 and stats.split_lines == 1
