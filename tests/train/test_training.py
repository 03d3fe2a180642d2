"""Short real training runs: both objectives learn; checkpoint + resume continues exactly."""

import dataclasses
import json

import pytest
import torch

from electra.pretrain import run_pretraining
from electra.train import checkpoint
from electra.train.loop import Trainer
from tests.helpers import Killed, job, metrics


@pytest.mark.parametrize("objective,loss_key", [("electra", "loss"), ("mlm", "mlm_loss")])
def test_objective_reduces_its_loss(prepared, tmp_path, objective, loss_key):
    torch.set_num_threads(1)
    run = run_pretraining(job(objective, 80), prepared, tmp_path / "run", progress=False)
    rows = metrics(run)
    assert rows[-1]["step"] == 80
    assert rows[-1][loss_key] < 0.9 * rows[0][loss_key]
    expected = {"electra": ["discriminator", "generator"], "mlm": ["mlm"]}[objective]
    for name in expected:
        assert (run / name / "model.safetensors").is_file() and (run / name / "tokenizer.json").is_file()
    if objective == "electra":
        assert {"disc_loss", "disc_baseline_loss", "gen_acc", "disc_recall"} <= set(rows[-1])


def test_resume_continues_exactly_like_an_uninterrupted_run(prepared, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    full = run_pretraining(job("electra", 30, save_every=15), prepared, tmp_path / "full", progress=False)

    save = Trainer.save

    def save_then_die(self):
        save(self)
        if self.step == 15:
            raise Killed

    monkeypatch.setattr(Trainer, "save", save_then_die)
    part = tmp_path / "part"
    with pytest.raises(Killed):
        run_pretraining(job("electra", 30, save_every=15), prepared, part, progress=False)
    monkeypatch.undo()
    run_pretraining(job("electra", 30, save_every=15), prepared, part, resume=True, progress=False)
    assert [r["step"] for r in metrics(part)] == [5, 10, 15, 20, 25, 30]
    assert [r["loss"] for r in metrics(part)] == [r["loss"] for r in metrics(full)]
    a = (full / "discriminator" / "model.safetensors").read_bytes()
    b = (part / "discriminator" / "model.safetensors").read_bytes()
    assert a == b


def test_resume_skips_a_damaged_checkpoint(prepared, tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    run_pretraining(job("electra", 20, save_every=10), prepared, run, progress=False)
    newest = checkpoint.checkpoint_dir(run) / "step-00000020"
    weights = newest / "discriminator" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated write
    run_pretraining(job("electra", 25, save_every=10), prepared, run, resume=True, progress=False)
    err = capsys.readouterr().err
    assert "step-00000020 is damaged" in err and "resumed from" in err and "step-00000010" in err
    assert [r["step"] for r in metrics(run)] == [5, 10, 15, 20, 25]


def test_init_starts_from_saved_weights(prepared, tmp_path):
    torch.set_num_threads(1)
    first = run_pretraining(job("electra", 10), prepared, tmp_path / "first", progress=False)
    second = run_pretraining(
        job("electra", 10, lr=1e-9, warmup_steps=0), prepared, tmp_path / "second", progress=False, init=first
    )
    from safetensors.torch import load_file

    a = load_file(str(first / "discriminator" / "model.safetensors"))
    b = load_file(str(second / "discriminator" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)  # lr ~0: weights stay where init put them
    assert json.loads((second / "run.json").read_text())["init"] == str(first)


def sharing_job(sharing: str, steps: int, **train):
    base = job("electra", steps, **train)
    return dataclasses.replace(base, recipe=dataclasses.replace(base.recipe, embedding_sharing=sharing))


def word_tables(run) -> tuple[torch.Tensor, torch.Tensor]:
    from safetensors.torch import load_file

    key = "electra.embeddings.word_embeddings.weight"
    return tuple(load_file(str(run / part / "model.safetensors"))[key] for part in ("discriminator", "generator"))


def test_the_trainer_passes_the_generators_table_changes_on_under_gdes(prepared, tmp_path):
    """With no RTD loss and no weight decay ``E_delta`` stays zero, so under 'gdes' the saved
    discriminator tables must follow the generator's; under 'none' they stay where they started."""
    torch.set_num_threads(1)
    quiet = dict(weight_decay=0.0)
    for sharing in ("gdes", "none"):
        the_job = sharing_job(sharing, 10, **quiet)
        the_job = dataclasses.replace(the_job, recipe=dataclasses.replace(the_job.recipe, disc_weight=0.0))
        run = run_pretraining(the_job, prepared, tmp_path / sharing, progress=False)
        disc, gen = word_tables(run)
        if sharing == "gdes":
            torch.testing.assert_close(disc, gen, atol=1e-6, rtol=1e-5)
        else:
            assert (disc - gen).abs().max() > 1e-3


def test_a_single_encoder_starts_both_tables_under_gdes(prepared, tmp_path, capsys):
    """``--init ENCODER`` under 'gdes': the generator's tables start from the encoder's (E_delta = 0);
    a gdes pair continued with shared tables keeps the discriminator's, and says so."""
    torch.set_num_threads(1)
    from electra.data.loader import PretrainData
    from electra.pretrain import build, fitted_job, load_initial_weights
    from electra.tokenizer import SpecialIds

    first = run_pretraining(sharing_job("gdes", 5), prepared, tmp_path / "first", progress=False)
    meta = PretrainData(prepared).meta
    special = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    objective = build(fitted_job(sharing_job("gdes", 5), meta, None, False), special, 64)
    load_initial_weights(objective, first / "discriminator")
    disc, _ = word_tables(first)
    for network in (objective.discriminator, objective.generator):
        assert torch.equal(network.electra.embeddings.word_embeddings.weight.detach(), disc)
    shared = build(fitted_job(sharing_job("es", 5), meta, None, False), special, 64)
    load_initial_weights(shared, first)
    assert torch.equal(shared.generator.electra.embeddings.word_embeddings.weight.detach(), disc)
    assert "embedding tables differ" in capsys.readouterr().err


def test_init_from_a_folder_without_models_is_an_error(prepared, tmp_path):
    from electra.errors import ElectraError

    with pytest.raises(ElectraError, match="no model to start from"):
        run_pretraining(job("electra", 2), prepared, tmp_path / "run", progress=False, init=tmp_path)


def test_a_new_run_does_not_overwrite_an_old_one(prepared, tmp_path):
    from electra.errors import ElectraError

    run = run_pretraining(job("electra", 5, save_every=5), prepared, tmp_path / "run", progress=False)
    before = (run / "metrics.jsonl").read_text()
    with pytest.raises(ElectraError, match="--resume"):
        run_pretraining(job("electra", 5), prepared, run, progress=False)
    assert (run / "metrics.jsonl").read_text() == before


def test_resume_drops_a_torn_metrics_line(prepared, tmp_path):
    torch.set_num_threads(1)
    run = run_pretraining(job("electra", 10, save_every=10), prepared, tmp_path / "run", progress=False)
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 15, "lo')  # the process died mid-write
    run_pretraining(job("electra", 15, save_every=10), prepared, run, resume=True, progress=False)
    assert [r["step"] for r in metrics(run)] == [5, 10, 15]


def test_resume_with_another_model_config_names_the_mismatch(prepared, tmp_path):
    import dataclasses

    from electra.errors import ElectraError

    torch.set_num_threads(1)
    run = run_pretraining(job("electra", 5, save_every=5), prepared, tmp_path / "run", progress=False)
    other = job("electra", 10)
    other = dataclasses.replace(other, model=dataclasses.replace(other.model, num_hidden_layers=3))
    with pytest.raises(ElectraError, match="num_hidden_layers|does not fit this model"):
        run_pretraining(other, prepared, run, resume=True, progress=False)


def test_training_leaves_seeds_deterministic_kernels_and_threads_as_they_were(prepared, tmp_path):
    from electra.data.loader import BatchStream, PretrainData
    from electra.pretrain import build, data_job
    from electra.tokenizer import SpecialIds

    torch.set_num_threads(1)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    run_pretraining(job("electra", 5, deterministic=True), prepared, tmp_path / "run", progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # the entry point restores what it seeded
    assert not torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1

    data = PretrainData(prepared)  # the trainer alone restores the deterministic switch it sets
    the_job = data_job(job("electra", 3, deterministic=True), data.meta)
    objective = build(the_job, SpecialIds(**data.meta["special_ids"]), int(data.meta["max_seq_len"]))
    trainer = Trainer(
        objective, BatchStream(data, 16, seed=1), the_job.train, tmp_path / "alone", torch.device("cpu"), progress=False
    )
    assert trainer.fit() == "done" and trainer.step == 3
    assert not torch.are_deterministic_algorithms_enabled()
