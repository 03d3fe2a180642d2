"""Token vectors from corpus co-occurrence (``prepare --token-vectors``) and the recipe options that
use them: the token table's start (``recipe.token_vectors``), its freezing
(``recipe.freeze_token_table``), the data-initialised fine-tuning baseline (``--init data``) and
compare's arm for it."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from safetensors.torch import load_file

from electra import cli
from electra.commands.compare import DATA_INIT, verdict
from electra.config import ObjectiveConfig, preset
from electra.data.loader import load_meta
from electra.data.vectors import VECTORS_FILE, cooccurrence, positive_pmi, read_token_vectors, write_token_vectors
from electra.errors import ConfigError, ElectraError
from electra.finetune.run import FinetuneJob, start_encoder
from electra.model.heads import TaskModel
from electra.model.networks import apply_init_scheme
from electra.model.vectors import place_token_vectors, word_columns
from electra.pretrain import run_pretraining
from tests.helpers import MODEL, job, write_sentiment

TABLE = "electra.embeddings.word_embeddings.weight"


@pytest.fixture
def with_vectors(prepared_vectors) -> Path:
    return prepared_vectors


# ---------------------------------------------------------------- counting


def test_cooccurrence_weights_pairs_by_distance_both_ways_and_skips_specials():
    row = np.array([[2, 10, 11, 12, 3, 0, 0]])  # [CLS] a b c [SEP] [PAD] [PAD]
    counts = cooccurrence([row], vocab_size=20, special=[0, 1, 2, 3, 4]).toarray()
    assert counts[10, 11] == counts[11, 10] == 1.0
    assert counts[10, 12] == counts[12, 10] == 0.5
    assert counts[11, 12] == 1.0
    assert counts[:5].sum() == counts[:, :5].sum() == 0  # nothing with a special id
    assert counts.sum() == 2 * (1 + 1 + 0.5)


def test_positive_pmi_keeps_only_pairs_seen_more_than_chance():
    counts = np.array([[0.0, 4.0, 1.0], [4.0, 0.0, 1.0], [1.0, 1.0, 4.0]])
    ppmi = positive_pmi(sp.csr_matrix(counts)).toarray()
    total = counts.sum()
    contexts = counts.sum(0) ** 0.75
    contexts = contexts / contexts.sum() * total
    ratio = counts * total / (counts.sum(1, keepdims=True) * contexts[None])
    expected = np.log(ratio, out=np.zeros_like(ratio), where=counts > 0).clip(min=0.0)
    np.testing.assert_allclose(ppmi, expected)
    assert ppmi[0, 2] == 0.0 and ppmi[0, 1] > 0  # a rare pair drops out, a frequent one stays


def test_prepare_writes_vectors_once_and_a_reprepared_folder_refuses_stale_ones(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    with pytest.raises(ElectraError, match="--token-vectors 128"):
        read_token_vectors(data)
    meta = load_meta(data)
    assert write_token_vectors(data, meta, 16)
    vectors = read_token_vectors(data)
    assert vectors.shape == (meta["vocab_size"], 16) and vectors.dtype == torch.float32
    specials = list(meta["special_ids"].values())
    assert vectors[specials].abs().sum() == 0 and vectors.abs().sum(1).gt(0).sum() > 100
    stamp = (data / VECTORS_FILE).stat().st_mtime_ns
    assert not write_token_vectors(data, meta, 16)  # the same settings: nothing computed again
    assert (data / VECTORS_FILE).stat().st_mtime_ns == stamp
    (data / "meta.json").write_text((data / "meta.json").read_text().replace('"max_seq_len"', ' "max_seq_len"'))
    with pytest.raises(ElectraError, match="computed for other shards"):
        read_token_vectors(data)


def test_the_prepare_command_adds_vectors_to_a_finished_folder(prepared, tmp_path, capsys):
    """Run again with --token-vectors, the same command builds no shard and writes only the vectors."""
    from tests.conftest import CORPUS

    out = tmp_path / "data"
    args = ["prepare", str(CORPUS), "--out", str(out), "--vocab-size", "2000", "--max-seq-len", "64"]
    assert cli.main(args) == 0
    shards = {p.name: p.read_bytes() for p in out.glob("part-*")}
    capsys.readouterr()
    assert cli.main([*args, "--token-vectors", "8"]) == 0
    err = capsys.readouterr().err
    assert "already built, skipped" in err and "8-wide token vectors written" in err
    assert {p.name: p.read_bytes() for p in out.glob("part-*")} == shards
    assert read_token_vectors(out).shape[1] == 8


# ---------------------------------------------------------------- placing


def test_vectors_fill_the_word_columns_at_the_initializers_scale():
    cfg = dataclasses.replace(MODEL, vocab_size=50, embedding_size=128, init_scheme="local")
    model = TaskModel(cfg)
    apply_init_scheme(cfg, [model.electra])
    table = model.electra.embeddings.word_embeddings.weight
    before = table.detach().clone()
    vectors = torch.randn(50, 200) * 3.0
    vectors[[0, 7]] = 0.0  # a special and an unseen piece
    columns = word_columns(cfg)
    assert columns.start == 48 and len(columns) == 80  # 'local': 24 sinusoid pairs first
    assert place_token_vectors([table], vectors, cfg) == 80
    block = table.detach()[:, 48:]
    seen = torch.ones(50, dtype=torch.bool)
    seen[[0, 7]] = False
    assert block[seen].std().item() == pytest.approx(cfg.initializer_range, rel=1e-4)
    torch.testing.assert_close(block[seen] / block[seen].std(), vectors[seen, :80] / vectors[seen, :80].std())
    assert torch.equal(table.detach()[:, :48], before[:, :48])  # position columns untouched (zero)
    assert torch.equal(table.detach()[[0, 7]], before[[0, 7]])  # rows without vectors keep their start
    with pytest.raises(ElectraError, match="vocabulary has 50"):
        place_token_vectors([table], torch.randn(60, 8), cfg)


def test_a_bert_start_gives_every_column_to_the_vectors():
    cfg = dataclasses.replace(MODEL, vocab_size=40)
    assert word_columns(cfg) == range(0, 32)
    table = torch.zeros(40, 32)
    assert place_token_vectors([table], torch.randn(40, 16), cfg) == 16
    assert table[:, :16].abs().min() > 0 and table[:, 16:].abs().sum() == 0


# ---------------------------------------------------------------- pretraining


def vectors_job(steps: int, **recipe):
    base = job("electra", steps)
    return dataclasses.replace(base, recipe=dataclasses.replace(base.recipe, **recipe))


def test_a_frozen_table_keeps_the_placed_vectors_while_the_rest_learns(with_vectors, tmp_path):
    run = run_pretraining(
        vectors_job(10, token_vectors=True, freeze_token_table=True), with_vectors, tmp_path / "run", progress=False
    )
    disc = load_file(str(run / "discriminator" / "model.safetensors"))
    gen = load_file(str(run / "generator" / "model.safetensors"))
    table = disc[TABLE]
    assert torch.equal(table, gen[TABLE])
    vectors = read_token_vectors(with_vectors)
    seen = vectors.abs().sum(1) > 0
    expected = vectors[seen] / vectors[seen].std() * MODEL.initializer_range
    torch.testing.assert_close(table[seen], expected)  # every step left the table as placed
    trained = run_pretraining(vectors_job(10, token_vectors=True), with_vectors, tmp_path / "trained", progress=False)
    moved = load_file(str(trained / "discriminator" / "model.safetensors"))
    assert not torch.allclose(moved[TABLE][seen], expected, atol=1e-4)  # not frozen: the table learns
    key = "electra.encoder.layer.0.attention.self.query.weight"  # the frozen run's body still learns
    early = run_pretraining(
        vectors_job(1, token_vectors=True, freeze_token_table=True), with_vectors, tmp_path / "one", progress=False
    )
    assert not torch.equal(load_file(str(early / "discriminator" / "model.safetensors"))[key], disc[key])


def test_vectors_need_prepared_vectors_and_no_init_model(prepared, with_vectors, tmp_path):
    with pytest.raises(ElectraError, match="no token vectors"):
        run_pretraining(vectors_job(2, token_vectors=True), prepared, tmp_path / "none", progress=False)
    assert not (tmp_path / "none").exists()  # refused before anything was written
    start = run_pretraining(job("electra", 2), with_vectors, tmp_path / "start", progress=False)
    with pytest.raises(ConfigError, match="token_vectors"):
        run_pretraining(vectors_job(2, token_vectors=True), with_vectors, tmp_path / "both", init=start)


def test_the_tiny_vectors_preset_is_tiny_budget_with_the_table_options():
    vectors, budget = preset("tiny-vectors"), preset("tiny-budget")
    assert vectors.objective.token_vectors and vectors.objective.freeze_token_table
    assert dataclasses.replace(vectors.objective, token_vectors=False, freeze_token_table=False) == budget.objective
    assert vectors.model == budget.model and vectors.train == budget.train
    assert not ObjectiveConfig().token_vectors and not ObjectiveConfig().freeze_token_table


# ---------------------------------------------------------------- fine-tuning and compare


def test_a_data_start_is_a_random_start_with_the_vectors_placed(with_vectors):
    cfg = dataclasses.replace(MODEL, vocab_size=load_meta(with_vectors)["vocab_size"], init_scheme="local")
    vectors = read_token_vectors(with_vectors)
    starts = {}
    for name, given in (("random", None), ("data", vectors)):
        torch.manual_seed(3)
        model = TaskModel(cfg)
        start_encoder(model, types.SimpleNamespace(cfg=cfg, vectors=given), pretrained=False, reinit_layers=0)
        starts[name] = model.state_dict()
    columns = word_columns(cfg)
    seen = vectors.abs().sum(1) > 0
    width = min(len(columns), vectors.shape[1])
    placed = starts["data"][TABLE][seen][:, columns.start : columns.start + width]
    torch.testing.assert_close(placed, vectors[seen, :width] / vectors[seen, :width].std() * cfg.initializer_range)
    differ = [k for k in starts["random"] if not torch.equal(starts["random"][k], starts["data"][k])]
    assert differ == [TABLE]  # nothing else: the same fresh start


def test_finetune_init_data_needs_its_vectors_and_records_them(with_vectors, tmp_path):
    with pytest.raises(ElectraError, match="--init data"):
        FinetuneJob(model=tmp_path, task="classification", data=tmp_path, out=tmp_path, init="data")
    with pytest.raises(ElectraError, match="--init data"):
        FinetuneJob(model=tmp_path, task="classification", data=tmp_path, out=tmp_path, token_vectors=with_vectors)
    model = run_pretraining(job("electra", 2), with_vectors, tmp_path / "run", progress=False)
    task = write_sentiment(tmp_path / "task", random.Random(0), sizes=(60, 20, 20))
    args = ["finetune", "--model", str(model), "--task", "classification", "--data", str(task), "--epochs", "1"]
    args += ["--device", "cpu", "--no-progress", "--init", "data"]
    assert cli.main([*args, "--out", str(tmp_path / "ft"), "--token-vectors", str(with_vectors)]) == 0
    results = json.loads((tmp_path / "ft" / "results.json").read_text())
    assert results["init"] == "data" and results["token_vectors"] == str(with_vectors)
    assert cli.main([*args, "--out", str(tmp_path / "bad"), "--token-vectors", str(tmp_path)]) == 2
    assert not (tmp_path / "bad").exists()


def _score(median: float) -> dict:
    return {"median": median, "min": median - 0.01, "max": median + 0.01}


def test_the_verdict_judges_every_arm_against_the_data_initialised_network_too():
    results = {
        "arms": {
            "electra": {"1": _score(0.77), "pretraining": {"disc_loss_ratio": 0.43, "disc_recall": 0.65}},
            "mlm": {"1": _score(0.75), "pretraining": {"mlm_loss": 5.6}},
        },
        "random_init": _score(0.745),
        "data_init": _score(0.771),
    }
    lines = "\n".join(verdict(results))
    assert f"electra does not beat the {DATA_INIT} network (0.7700 vs 0.7710)" in lines
    assert f"No pretrained model beats the {DATA_INIT} network" in lines
    assert "No pretrained model beats random initialisation" not in lines
    results["data_init"] = _score(0.70)
    lines = "\n".join(verdict(results))
    assert f"electra beats the {DATA_INIT} network" in lines and "No pretrained model" not in lines
    assert DATA_INIT not in "\n".join(verdict({**results, "data_init": None}))


def test_compare_adds_the_data_initialised_arm_when_the_preset_uses_vectors(with_vectors, tmp_path):
    task = write_sentiment(tmp_path / "task", random.Random(0), sizes=(60, 20, 20))
    out = tmp_path / "out"
    args = ["compare", "--data", str(with_vectors), "--task-data", str(task), "--task", "classification"]
    args += ["--preset", "tiny-vectors", "--budget", "1e11", "--fractions", "1", "--arms", "electra", "--seeds", "1"]
    assert cli.main([*args, "--epochs", "1", "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["token_vectors"] and results["freeze_token_table"]
    assert results["data_init"]["per_seed"] and (out / "finetune" / "data-init" / "results.json").is_file()
    assert json.loads((out / "finetune" / "data-init" / "results.json").read_text())["init"] == "data"
    report = (out / "report.md").read_text()
    assert f"| classification | {DATA_INIT} |" in report
    assert (
        f"--model {out}/pretrain/electra/snapshots/1/discriminator --init data --token-vectors {with_vectors}" in report
    )
    assert "token table started from the data's token vectors, token table frozen in pretraining" in report
    saved = load_file(str(out / "pretrain" / "electra" / "discriminator" / "model.safetensors"))[TABLE]
    assert saved.norm(dim=1).max() <= 0.2 + 1e-6  # the preset's cap holds (it shortens the long rows once)
    assert not math.isnan(results["random_init"]["median"])
