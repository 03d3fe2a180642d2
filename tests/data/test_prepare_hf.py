"""prepare --hf-dataset: a Hugging Face dataset (a save_to_disk folder, or a stream) read as
JSONL records are, with no network: hub streams are stood in for by monkeypatching."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")

from electra import cli  # noqa: E402
from electra.data import hf_dataset  # noqa: E402

FLAGS = ["--vocab-size", "1000", "--max-seq-len", "32", "--examples-per-shard", "64"]
SUBJECTS = [
    "The old sailor",
    "A quiet teacher",
    "My younger sister",
    "The village baker",
    "Every small bird",
    "Our tired dog",
]
VERBS = ["watched", "painted", "remembered", "carried", "followed", "described"]
OBJECTS = ["the grey harbour", "a long letter", "the morning train", "an empty garden", "the winter road", "a red kite"]


@pytest.fixture(autouse=True)
def _quiet_datasets():
    """No save_to_disk progress bars on stderr, where the errors are checked."""
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def records(count: int = 36, salt: str = "") -> list[dict]:
    """``count`` documents of two or three sentences (lines), a few dozen sentences in all."""
    out = []
    for i in range(count):
        lines = [
            f"{SUBJECTS[(i + j) % 6]} {VERBS[(i * 5 + j) % 6]} {OBJECTS[(i * 7 + 2 * j) % 6]}{salt} {i}."
            for j in range(2 + i % 2)
        ]
        out.append({"id": i, "text": "\n".join(lines)})
    return out


def save(folder: Path, rows: list[dict]) -> Path:
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def meta_of(out: Path) -> dict:
    return json.loads((out / "meta.json").read_text(encoding="utf-8"))


def test_a_saved_dataset_gives_the_shards_of_the_same_jsonl(tmp_path, capsys):
    rows = records()
    folder = save(tmp_path / "saved", rows)
    jsonl = write_jsonl(tmp_path / "same.jsonl", rows)
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(tmp_path / "hf"), *FLAGS]) == 0
    assert cli.main(["prepare", str(jsonl), "--out", str(tmp_path / "jsonl"), *FLAGS]) == 0

    from_hf, from_jsonl = meta_of(tmp_path / "hf"), meta_of(tmp_path / "jsonl")
    assert from_hf["counts"]["documents"] == len(rows)
    assert from_hf["counts"]["examples"] > 0
    assert from_hf["counts"] == from_jsonl["counts"]
    assert from_hf["shards"] == from_jsonl["shards"]  # names, row counts and sha256 of every shard
    hf_files, jsonl_files = digests(tmp_path / "hf"), digests(tmp_path / "jsonl")
    for name in ("vocab.txt", "tokenizer.json", "part-00000-000.npy"):
        assert hf_files[name] == jsonl_files[name]

    texts = b"".join(row["text"].encode("utf-8") + b"\0" for row in rows)
    assert from_hf["inputs"] == [
        {
            "hf_dataset": str(folder),
            "config": None,
            "split": None,
            "path": str(folder.resolve()),
            "sha256": hashlib.sha256(texts).hexdigest(),
            "lines": from_jsonl["inputs"][0]["lines"],
        }
    ]
    record = json.loads((tmp_path / "hf" / "prepare.json").read_text())
    assert record["inputs"][0]["hf_dataset"] == str(folder) and record["inputs"][0]["size"] > 0

    # reproducible: a second folder gets the same bytes; a rerun resumes and changes nothing
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(tmp_path / "again"), *FLAGS]) == 0
    assert digests(tmp_path / "again") == hf_files
    capsys.readouterr()
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(tmp_path / "hf"), *FLAGS]) == 0
    assert "1 of 1 parts already built" in capsys.readouterr().err
    assert digests(tmp_path / "hf") == hf_files

    # the dataset changed: refused naming it, rebuilt with --overwrite
    save(folder, rows + [{"id": 99, "text": "One more document here."}])
    capsys.readouterr()
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(tmp_path / "hf"), *FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"input --hf-dataset {folder} changed since" in err
    args = ["prepare", "--hf-dataset", str(folder), "--out", str(tmp_path / "hf"), *FLAGS, "--overwrite"]
    assert cli.main(args) == 0
    assert meta_of(tmp_path / "hf")["counts"]["documents"] == len(rows) + 1


def test_files_and_a_dataset_together(tmp_path):
    rows = records()
    folder = save(tmp_path / "saved", rows[:20])
    jsonl = write_jsonl(tmp_path / "first.jsonl", rows[20:])
    out = tmp_path / "out"
    args = ["prepare", str(jsonl), "--hf-dataset", str(folder), "--out", str(out), *FLAGS, "--workers", "2"]
    assert cli.main(args) == 0  # the dataset's part is built in a spawned worker
    meta = meta_of(out)
    assert [i.get("file") or i.get("hf_dataset") for i in meta["inputs"]] == [str(jsonl), str(folder)]
    assert meta["counts"]["documents"] == len(rows)
    assert {"part-00000.json", "part-00001.json"} <= set(os.listdir(out))


def test_a_missing_column_is_named_with_the_columns_there_are(tmp_path, capsys):
    folder = save(tmp_path / "saved", [{"id": row["id"], "content": row["text"]} for row in records()])
    out = tmp_path / "out"
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "no column 'text' (columns: id, content)" in err and "--text-field" in err
    assert not out.exists()  # checked before any work
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--text-field", "content", "--out", str(out), *FLAGS]) == 0
    assert meta_of(out)["counts"]["documents"] == len(records())


def test_a_dataset_dict_reads_the_chosen_split(tmp_path, capsys):
    train, validation = records(30), records(8, salt=" again")
    folder = tmp_path / "dict"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(train), "validation": datasets.Dataset.from_list(validation)}
    ).save_to_disk(str(folder))

    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(tmp_path / "default"), *FLAGS]) == 0
    assert meta_of(tmp_path / "default")["counts"]["documents"] == len(train)
    assert meta_of(tmp_path / "default")["inputs"][0]["split"] == "train"

    args = ["prepare", "--hf-dataset", str(folder), "--hf-split", "validation", "--out", str(tmp_path / "val")]
    assert cli.main([*args, *FLAGS]) == 0
    meta = meta_of(tmp_path / "val")
    assert meta["counts"]["documents"] == len(validation) and meta["inputs"][0]["split"] == "validation"

    capsys.readouterr()
    args = ["prepare", "--hf-dataset", str(folder), "--hf-split", "test", "--out", str(tmp_path / "test")]
    assert cli.main([*args, *FLAGS]) == 2
    assert "no split 'test' (splits: train, validation)" in capsys.readouterr().err
    assert not (tmp_path / "test").exists()


def test_a_hub_stream_is_read_and_recorded_by_name(tmp_path, monkeypatch):
    rows = records()
    calls = []

    def load_dataset(name, config=None, split=None, streaming=False):
        calls.append((name, config, split, streaming))
        return datasets.Dataset.from_list(rows).to_iterable_dataset()

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    out = tmp_path / "out"
    args = ["prepare", "--hf-dataset", "someone/corpus", "--hf-config", "small", "--out", str(out), *FLAGS]
    assert cli.main(args) == 0
    assert set(calls) == {("someone/corpus", "small", "train", True)}
    meta = meta_of(out)
    assert meta["counts"]["documents"] == len(rows)
    entry = meta["inputs"][0]
    assert {k: entry[k] for k in ("hf_dataset", "config", "split")} == {
        "hf_dataset": "someone/corpus",
        "config": "small",
        "split": "train",
    }
    assert "path" not in entry

    jsonl = write_jsonl(tmp_path / "same.jsonl", rows)
    assert cli.main(["prepare", str(jsonl), "--out", str(tmp_path / "jsonl"), *FLAGS]) == 0
    assert meta["shards"] == meta_of(tmp_path / "jsonl")["shards"]


def test_without_datasets_installed_the_error_says_what_to_install(tmp_path, monkeypatch, capsys):
    folder = save(tmp_path / "saved", records())
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets now raises ImportError
    out = tmp_path / "out"
    assert cli.main(["prepare", "--hf-dataset", str(folder), "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install 'datasets>=2.14'" in err and "electra[hf]" in err
    assert not out.exists()


def test_an_unreachable_hub_is_one_line_suggesting_a_local_copy(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'someone/corpus' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    out = tmp_path / "out"
    assert cli.main(["prepare", "--hf-dataset", "someone/corpus", "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --hf-dataset someone/corpus: cannot reach the Hugging Face Hub") and "\n" not in err
    assert "save_to_disk" in err and "Traceback" not in err
    assert not out.exists()


def test_offline_mode_fails_at_once_without_a_traceback(tmp_path):
    """The real datasets in offline mode (no network touched): its own exception is the one caught."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "electra", "prepare", "--hf-dataset", "nobody-zz/no-such-corpus", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot reach the Hugging Face Hub" in done.stderr and "save_to_disk" in done.stderr
    assert not out.exists()


def test_a_saved_dataset_is_iterated_in_batches_not_loaded_whole(tmp_path, monkeypatch):
    folder = save(tmp_path / "saved", records())
    monkeypatch.setattr(hf_dataset, "BATCH_ROWS", 5)
    seen = []
    real_iter = datasets.Dataset.iter

    def spy(self, batch_size, *args, **kwargs):
        seen.append(batch_size)
        return real_iter(self, batch_size, *args, **kwargs)

    monkeypatch.setattr(datasets.Dataset, "iter", spy)
    count, values = hf_dataset.open_rows(hf_dataset.HFDataset(str(folder)), "text")
    assert count == 36 and [v.split("\n")[0] for v in values] == [r["text"].split("\n")[0] for r in records()]
    assert seen == [5]
