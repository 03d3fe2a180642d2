"""prepare: text files in, shards + tokenizer + meta.json out, with every count checked."""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from electra.config import PrepareConfig
from electra.data.prepare import prepare
from electra.errors import ElectraError
from electra.tokenizer import load_tokenizer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "corpus"
CFG = dict(vocab_size=1000, max_seq_len=32, examples_per_shard=64)


def write_inputs(root: Path) -> list[Path]:
    """A small messy corpus: a folder (with a sub-folder, a .gz and files to skip) and a file."""
    folder = root / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha line one.\nAlpha line two.\n\nBeta document here.\n", encoding="utf-8")
    with gzip.open(folder / "sub" / "b.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("Gamma in gzip.\n\n\n\nDelta [MASK] literal.\n")
    (folder / "sub" / "empty.txt").write_bytes(b"")
    (folder / "sub" / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    (folder / "sub" / "latin1.txt").write_bytes("Caf\xe9 au lait.\n\x01\x02\n".encode("latin-1"))
    (folder / "ignored.csv").write_text("not,read\n", encoding="utf-8")
    single = root / "single.txt"
    single.write_text("Epsilon stands alone.\n", encoding="utf-8")
    return [folder, single, FIXTURES / "mobydick_sample.txt.gz"]


def shard_rows(out: Path, meta: dict) -> np.ndarray:
    return np.concatenate([np.load(out / s["file"]) for s in meta["shards"]])


def test_prepare_writes_shards_tokenizer_and_meta(tmp_path, capsys):
    inputs = write_inputs(tmp_path)
    out = tmp_path / "out"
    cfg = PrepareConfig(**CFG)
    meta = prepare(inputs, out, cfg, progress=False)

    assert json.loads((out / "meta.json").read_text()) == meta
    assert meta["schema_version"] == 1 and meta["tokenizer"] == "tokenizer.json"
    assert meta["special_ids"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert meta["dtype"] == "uint16" and meta["max_seq_len"] == 32
    assert meta["config"]["vocab_size"] == 1000 and meta["config"]["seed"] == cfg.seed

    counts = meta["counts"]
    with gzip.open(FIXTURES / "mobydick_sample.txt.gz", "rt") as f:
        moby_text = f.read()
    moby = sum(1 for line in moby_text.splitlines() if line.strip())
    moby_docs = 1 + moby_text.strip().count("\n\n")
    assert counts["files"] == 5  # a, b, latin1, single, mobydick
    assert counts["lines"] == 2 + 1 + 1 + 1 + 2 + 1 + moby
    assert counts["documents"] == 2 + 2 + 1 + 1 + moby_docs
    assert counts["skipped_lines"] == 1  # "\x01\x02" is nothing after normalisation
    assert counts["replaced_lines"] == 1
    assert counts["split_lines"] == 0
    skipped = {Path(s["file"]).name: s["reason"] for s in counts["skipped_files"]}
    assert set(skipped) == {"empty.txt", "binary.txt"}
    assert "binary.txt" in capsys.readouterr().err

    assert [Path(i["file"]).name for i in meta["inputs"]] == [
        "a.txt",
        "b.txt.gz",
        "latin1.txt",
        "single.txt",
        "mobydick_sample.txt.gz",
    ]
    for entry in meta["inputs"]:
        assert entry["sha256"] == hashlib.sha256(Path(entry["file"]).read_bytes()).hexdigest()

    rows = shard_rows(out, meta)
    assert len(meta["shards"]) > 1 and all(0 < s["examples"] <= 64 for s in meta["shards"])
    assert sum(s["examples"] for s in meta["shards"]) == counts["examples"]
    assert rows.shape == (counts["examples"], 32) and rows.dtype == np.uint16
    assert counts["tokens"] == int((rows != 0).sum())
    assert np.all(rows[:, 0] == 2)
    tok = load_tokenizer(out)
    assert tok.get_vocab_size() == meta["vocab_size"] <= 1000
    assert (out / "vocab.txt").is_file()
    texts = [tok.decode(row.tolist()) for row in rows[:8]]
    assert texts[0] == "alpha line one. alpha line two."
    assert texts[1] == "beta document here."
    assert texts[3].startswith("delta [ mask ]"), "a literal [MASK] in text is not the mask id"
    assert not np.any(rows == 4)


def test_same_seed_same_shards_and_given_tokenizer(tmp_path):
    inputs = write_inputs(tmp_path)
    first = prepare(inputs, tmp_path / "one", PrepareConfig(**CFG), progress=False)
    cfg = PrepareConfig(**CFG, tokenizer=str(tmp_path / "one" / "vocab.txt"))
    second = prepare(inputs, tmp_path / "two", cfg, progress=False)
    np.testing.assert_array_equal(shard_rows(tmp_path / "one", first), shard_rows(tmp_path / "two", second))
    assert first["counts"] == second["counts"]
    other = prepare(inputs, tmp_path / "three", PrepareConfig(**CFG, seed=99, tokenizer=cfg.tokenizer), progress=False)
    assert not np.array_equal(shard_rows(tmp_path / "three", other)[:50], shard_rows(tmp_path / "one", first)[:50])


def test_rerun_replaces_old_shards(tmp_path):
    inputs = write_inputs(tmp_path)
    out = tmp_path / "out"
    prepare(inputs, out, PrepareConfig(**{**CFG, "examples_per_shard": 16}), progress=False)
    assert len(list(out.glob("part-*.npy"))) > 2
    meta = prepare(inputs, out, PrepareConfig(**CFG, tokenizer=str(out)), progress=False, overwrite=True)
    assert sorted(p.name for p in out.glob("part-*.npy")) == sorted(s["file"] for s in meta["shards"])
    assert not list(out.glob("*.tmp"))


def test_no_usable_text_is_an_error(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n\n", encoding="utf-8")
    tokenizer = tmp_path / "tok"
    shutil.copytree(FIXTURES, tmp_path / "corpus")
    prepare([tmp_path / "corpus"], tokenizer, PrepareConfig(**CFG), progress=False)
    with pytest.raises(ElectraError, match="no example"):
        prepare(
            [tmp_path / "empty.txt", tmp_path / "blank.txt"],
            tmp_path / "out",
            PrepareConfig(**CFG, tokenizer=str(tokenizer)),
            progress=False,
        )
    assert not (tmp_path / "out" / "meta.json").exists()


def test_missing_input_is_named(tmp_path):
    with pytest.raises(ElectraError, match="missing.txt"):
        prepare([tmp_path / "missing.txt"], tmp_path / "out", PrepareConfig(**CFG), progress=False)
