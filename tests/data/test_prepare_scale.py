"""prepare at scale: parallel parts, machine shards, resumable reruns, dirty inputs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from electra import cli
from electra.config import PrepareConfig
from electra.data.loader import BatchStream, PretrainData
from electra.data.prepare import prepare
from electra.errors import ElectraError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "corpus"
CFG = dict(vocab_size=1000, max_seq_len=32, examples_per_shard=256)
LONG_LINE_MB = 8  # the check uses 50 MB; the splitting does not depend on the size


def dirty_folder(root: Path) -> Path:
    folder = root / "dirty"
    folder.mkdir()
    for source in FIXTURES.glob("*.txt.gz"):
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "bad-utf8.txt").write_bytes(b"fine words\n\xff\xfe broken \xc3\x28 bytes\nmore text here\n")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (folder / "empty.txt").write_bytes(b"")
    words = b"the whale swam far and deep into the grey sea "
    (folder / "one-line.txt").write_bytes(words * (LONG_LINE_MB * 2**20 // len(words)))
    return folder


def rows(out: Path, meta: dict) -> np.ndarray:
    return np.concatenate([np.load(out / s["file"]) for s in meta["shards"]])


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "meta.json"}


def test_dirty_folder_is_reported_usable_and_a_rerun_does_no_work(tmp_path, capsys):
    folder = dirty_folder(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["prepare", str(folder), "--out", str(out), "--vocab-size", "1000", "--max-seq-len", "32"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    counts = meta["counts"]
    skipped = {Path(s["file"]).name: s["reason"] for s in counts["skipped_files"]}
    assert set(skipped) == {"binary.txt", "empty.txt"}
    assert counts["replaced_lines"] == 1
    assert counts["split_lines"] == 1  # the long line, cut into pieces that each count as a line
    markers = [json.loads(p.read_text()) for p in sorted(out.glob("part-*.json"))]
    long_part = next(m for m in markers if m["file"].endswith("one-line.txt"))
    assert long_part["lines"] >= LONG_LINE_MB * 2**20 // 100_000
    assert long_part["tokens"] > LONG_LINE_MB * 2**20 // 10
    assert counts["files"] == 4
    stream = BatchStream(PretrainData(out), batch_size=8, seed=0)
    assert next(stream).input_ids.shape[0] == 8

    before = mtimes(out)
    capsys.readouterr()
    assert cli.main(["prepare", str(folder), "--out", str(out), "--vocab-size", "1000", "--max-seq-len", "32"]) == 0
    assert "6 of 6 parts already built" in capsys.readouterr().err
    assert mtimes(out) == before  # nothing rebuilt, tokenizer not retrained
    assert json.loads((out / "meta.json").read_text()) == meta


def test_parallel_workers_give_the_same_shards(tmp_path):
    one = prepare([FIXTURES], tmp_path / "one", PrepareConfig(**CFG), progress=False)
    tokenizer = str(tmp_path / "one")
    two = prepare([FIXTURES], tmp_path / "two", PrepareConfig(**CFG, tokenizer=tokenizer), workers=2, progress=False)
    np.testing.assert_array_equal(rows(tmp_path / "one", one), rows(tmp_path / "two", two))
    assert one["counts"] == two["counts"]


def test_machine_shards_combine_into_the_whole(tmp_path):
    whole = prepare([FIXTURES], tmp_path / "whole", PrepareConfig(**CFG), progress=False)
    out = tmp_path / "split"
    with pytest.raises(ElectraError, match="tokenizer"):
        prepare([FIXTURES], out, PrepareConfig(**CFG), num_shards=2, shard_index=0, progress=False)
    # one tokenizer for every machine: copied in once (or trained once with tokenizer_only)
    given = PrepareConfig(**CFG, tokenizer=str(tmp_path / "whole"))
    assert prepare([FIXTURES], out, given, tokenizer_only=True, progress=False) is None
    assert (out / "tokenizer.json").is_file() and not list(out.glob("part-*"))
    assert prepare([FIXTURES], out, given, num_shards=2, shard_index=1, progress=False) is None
    assert not (out / "meta.json").exists()  # part 0 is still missing
    meta = prepare([FIXTURES], out, given, num_shards=2, shard_index=0, progress=False)
    assert meta is not None and (out / "meta.json").is_file()
    np.testing.assert_array_equal(rows(tmp_path / "whole", whole), rows(out, meta))


def test_an_interrupted_part_is_rebuilt_and_a_changed_file_too(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for source in FIXTURES.glob("*.txt.gz"):
        (corpus / source.name).write_bytes(source.read_bytes())
    out = tmp_path / "out"
    first = prepare([corpus], out, PrepareConfig(**CFG), progress=False)
    (out / "part-00001.json").unlink()  # as if killed before the marker was written
    second = prepare([corpus], out, PrepareConfig(**CFG), progress=False)
    np.testing.assert_array_equal(rows(out, first), rows(out, second))
    with gzip.open(corpus / "mobydick_sample.txt.gz", "at", encoding="utf-8") as handle:
        handle.write("\nA new closing paragraph about the sea and the whale.\n")
    with pytest.raises(ElectraError, match="mobydick_sample.txt.gz changed"):
        prepare([corpus], out, PrepareConfig(**CFG), progress=False)  # other inputs: refused
    third = prepare([corpus], out, PrepareConfig(**CFG), progress=False, overwrite=True)
    assert third["counts"]["lines"] == first["counts"]["lines"] + 1


def test_a_tokenizer_trained_once_serves_every_machine(tmp_path):
    out = tmp_path / "out"
    assert prepare([FIXTURES], out, PrepareConfig(**CFG), tokenizer_only=True, progress=False) is None
    trained = (out / "tokenizer.json").read_bytes()
    for index in (0, 1):
        meta = prepare([FIXTURES], out, PrepareConfig(**CFG), num_shards=2, shard_index=index, progress=False)
    assert (out / "tokenizer.json").read_bytes() == trained  # reused, not retrained
    assert meta is not None and meta["counts"]["examples"] > 0
