"""Loader: meta checks, memory-mapped rows, batches, token types, resume and rank slices."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from electra.config import PrepareConfig
from electra.data.loader import BatchStream, PretrainData, batch_from_ids, load_meta
from electra.data.prepare import prepare
from electra.errors import ElectraError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "corpus"
PAD, CLS, SEP = 0, 2, 3


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    cfg = PrepareConfig(vocab_size=1000, max_seq_len=48, examples_per_shard=300)
    prepare([FIXTURES], out, cfg, progress=False)
    return out


def test_batch_from_ids_derives_mask_and_token_types():
    ids = np.array(
        [
            [CLS, 10, 11, SEP, 20, SEP, PAD, PAD],
            [CLS, 10, SEP, PAD, PAD, PAD, PAD, PAD],
            [CLS, 10, 11, 12, SEP, 21, 22, SEP],
        ],
        dtype=np.uint16,
    )
    batch = batch_from_ids(ids, PAD, SEP)
    assert batch.input_ids.dtype == torch.int64 and batch.input_ids.shape == (3, 8)
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0], [1] * 8]
    assert batch.token_type_ids.tolist() == [[0, 0, 0, 0, 1, 1, 0, 0], [0] * 8, [0, 0, 0, 0, 0, 1, 1, 1]]
    assert batch.num_tokens == 6 + 3 + 8
    assert batch.to("cpu").input_ids.tolist() == ids.tolist()


def test_data_rows_span_shards(prepared):
    data = PretrainData(prepared)
    meta = load_meta(prepared)
    assert len(meta["shards"]) > 2
    everything = np.concatenate([np.load(prepared / s["file"]) for s in meta["shards"]]).astype(np.int64)
    assert len(data) == len(everything) == meta["counts"]["examples"]
    picks = np.array([len(data) - 1, 0, 299, 300, 301, 650, 5])
    np.testing.assert_array_equal(data.rows(picks), everything[picks])
    with pytest.raises(IndexError):
        data.rows(np.array([len(data)]))


def test_batches_are_trimmed_and_well_formed(prepared):
    data = PretrainData(prepared)
    stream = BatchStream(data, batch_size=16, seed=0)
    for _ in range(20):
        batch = next(stream)
        b, t = batch.input_ids.shape
        assert b == 16 and t <= 48
        assert batch.attention_mask[:, -1].any(), "trimmed to the longest real row"
        assert torch.all(batch.input_ids[:, 0] == CLS)
        assert torch.all(batch.input_ids[batch.attention_mask == 0] == PAD)
        assert torch.all(batch.token_type_ids[batch.attention_mask == 0] == 0)
    untrimmed = next(BatchStream(data, batch_size=16, seed=0, trim=False))
    assert untrimmed.input_ids.shape == (16, 48)


def test_order_is_a_function_of_seed_and_epoch(prepared):
    data = PretrainData(prepared)
    a = BatchStream(data, batch_size=32, seed=3, trim=False)
    b = BatchStream(data, batch_size=32, seed=3, trim=False)
    c = BatchStream(data, batch_size=32, seed=4, trim=False)
    first = [next(a).input_ids for _ in range(a.batches_per_epoch)]
    assert all(torch.equal(x, next(b).input_ids) for x in first)
    assert not torch.equal(first[0], next(c).input_ids)
    # One epoch visits distinct examples; the next epoch reshuffles.
    rows = torch.cat(first)
    assert len(rows) == (len(data) // 32) * 32
    assert a.state_dict() == {"epoch": 0, "position": a.batches_per_epoch}
    assert not torch.equal(next(a).input_ids, first[0])
    assert a.state_dict() == {"epoch": 1, "position": 1}


@pytest.mark.parametrize("skip", [3, 0])
def test_resume_gives_the_same_next_batches(prepared, skip):
    data = PretrainData(prepared)
    stream = BatchStream(data, batch_size=8, seed=1)
    warmup = stream.batches_per_epoch - 2 + skip  # cross the epoch boundary when skip > 0
    for _ in range(warmup):
        next(stream)
    state = stream.state_dict()
    expected = [next(stream) for _ in range(5)]
    resumed = BatchStream(data, batch_size=8, seed=1)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    for want in expected:
        got = next(resumed)
        assert torch.equal(got.input_ids, want.input_ids)
        assert torch.equal(got.token_type_ids, want.token_type_ids)


def test_rank_slices_are_disjoint_and_cover_the_global_batch(prepared):
    data = PretrainData(prepared)
    world = 4
    single = BatchStream(data, batch_size=16, seed=2, trim=False)
    ranks = [BatchStream(data, batch_size=16, seed=2, rank=r, world_size=world, trim=False) for r in range(world)]
    for _ in range(5):
        full = next(single).input_ids
        parts = [next(stream).input_ids for stream in ranks]
        assert all(len(p) == 4 for p in parts)
        assert torch.equal(torch.cat(parts), full)
    with pytest.raises(ElectraError, match="divisible"):
        BatchStream(data, batch_size=10, seed=0, rank=0, world_size=4)


def test_meta_problems_name_the_file(prepared, tmp_path):
    with pytest.raises(ElectraError, match="meta.json"):
        load_meta(tmp_path)
    folder = tmp_path / "copy"
    folder.mkdir()
    meta = json.loads((prepared / "meta.json").read_text())
    (folder / "meta.json").write_text("{\n  broken", encoding="utf-8")
    with pytest.raises(ElectraError, match=r"meta.json:2"):
        load_meta(folder)
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ElectraError, match=r"part-00000-000.npy.*missing"):
        load_meta(folder)
    for shard in meta["shards"]:
        (folder / shard["file"]).write_bytes((prepared / shard["file"]).read_bytes())
    assert load_meta(folder)["vocab_size"] == meta["vocab_size"]
    np.save(folder / meta["shards"][1]["file"], np.zeros((3, 48), dtype=np.uint16))
    second = re.escape(meta["shards"][1]["file"])
    with pytest.raises(ElectraError, match=f"{second}.*shape"):
        load_meta(folder)
    (folder / meta["shards"][1]["file"]).write_bytes(b"not numpy")
    with pytest.raises(ElectraError, match=second):
        load_meta(folder)
    with pytest.raises(ElectraError, match="cannot fill"):
        BatchStream(PretrainData(prepared), batch_size=10**6, seed=0)


def test_a_damaged_shard_is_an_error_naming_it_not_an_index_error_in_the_model(prepared, tmp_path):
    import shutil

    folder = Path(shutil.copytree(prepared, tmp_path / "data"))
    meta = load_meta(folder)
    shard = folder / meta["shards"][0]["file"]
    rows = np.load(shard)
    rows[3, 5] = meta["vocab_size"]  # one id past the vocabulary, as garbage bytes give
    np.save(shard, rows)
    data = PretrainData(folder)
    assert data.rows(np.array([0, 1, 2])).shape == (3, meta["max_seq_len"])  # intact rows still read
    with pytest.raises(ElectraError, match=re.escape(f"{shard}: token id {meta['vocab_size']} is outside")):
        data.rows(np.array([1, 3]))
