"""The paper's Table 5 objectives: what each one trains on, and that each runs, saves and resumes."""

import pytest
import torch

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.model.io import load_encoder, read_config
from electra.model.networks import Discriminator
from electra.objectives import NETWORK_FOLDERS, OBJECTIVES
from electra.objectives.all_tokens_mlm import copy_mixture_nll
from electra.pretrain import run_pretraining
from electra.tokenizer import SpecialIds
from electra.train.loop import Trainer
from tests.helpers import Killed, job, metrics

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
CFG = ModelConfig(
    vocab_size=200,
    embedding_size=32,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
)


def batch(rows: int = 4, width: int = 32, seed: int = 0) -> PretrainBatch:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, CFG.vocab_size, (rows, width), generator=g)
    ids[:, 0], ids[:, -1] = SPECIAL.cls, SPECIAL.sep
    attention = torch.ones_like(ids)
    ids[1, 20:], attention[1, 20:] = SPECIAL.pad, 0
    return PretrainBatch(ids, attention, torch.zeros_like(ids))


def build(name: str):
    torch.manual_seed(0)
    return OBJECTIVES[name].build(CFG, ObjectiveConfig(), SPECIAL, 32)


def test_every_objective_names_its_folders_and_encoder():
    for name, cls in OBJECTIVES.items():
        objective = build(name)
        assert tuple(objective.networks()) == cls.folders
        assert cls.encoder in cls.folders
        assert set(cls.folders) <= set(NETWORK_FOLDERS)


def test_electra15_scores_only_the_selected_positions():
    full, fifteen = build("electra"), build("electra15")
    fifteen.load_state_dict(full.state_dict())
    b = batch()
    out = fifteen.run(b, torch.Generator().manual_seed(1))
    step = fifteen.score(out, b.attention_mask)
    assert float(step.stats["real_tokens"]) == float(out.selection.mask.sum())
    out.disc_logits.retain_grad()
    step.loss.backward()
    assert torch.all(out.disc_logits.grad[~out.selection.mask] == 0)
    assert torch.any(out.disc_logits.grad[out.selection.mask] != 0)
    everything = full.forward(b, torch.Generator().manual_seed(1))
    assert float(everything.stats["real_tokens"]) == float(b.attention_mask.sum())


def test_replace_mlm_shows_its_model_samples_never_mask():
    objective = build("replace-mlm")
    seen = []
    objective.mlm.electra.register_forward_hook(lambda module, args, out: seen.append(args[0].clone()))
    b = batch()
    step = objective(b, torch.Generator().manual_seed(3))
    (inputs,) = seen
    assert not torch.any(inputs == SPECIAL.mask)
    changed = inputs != b.input_ids
    assert changed.any()
    selected = objective.select(b, torch.Generator().manual_seed(3)).mask
    assert not torch.any(changed & ~selected)  # only selected positions were rewritten
    gen_term, main_term = step.terms
    assert torch.allclose(step.loss, gen_term.weight * gen_term.mean + main_term.mean)
    assert float(main_term.count) == float(selected.sum())


def test_copy_mixture_is_the_likelihood_of_copy_or_generate():
    g = torch.Generator().manual_seed(4)
    copy_logits = torch.randn(2, 5, generator=g)
    vocab_logits = torch.randn(2, 5, 7, generator=g)
    targets = torch.randint(0, 7, (2, 5), generator=g)
    inputs = targets.clone()
    inputs[0, 1], inputs[1, 3] = (targets[0, 1] + 1) % 7, (targets[1, 3] + 2) % 7
    d = torch.sigmoid(copy_logits)
    q = torch.softmax(vocab_logits, -1).gather(-1, targets[..., None]).squeeze(-1)
    expected = -torch.log(d * (inputs == targets) + (1 - d) * q)
    assert torch.allclose(copy_mixture_nll(copy_logits, vocab_logits, inputs, targets), expected, atol=1e-6)


def test_all_tokens_mlm_predicts_every_real_token():
    objective = build("all-tokens-mlm")
    b = batch()
    step = objective(b, torch.Generator().manual_seed(5))
    gen_term, main_term = step.terms
    assert float(main_term.count) == float(b.attention_mask.sum())
    assert torch.allclose(step.loss, gen_term.weight * gen_term.mean + main_term.mean)
    step.loss.backward()
    assert objective.mlm.copy_predictions.dense_prediction.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["electra15", "replace-mlm", "all-tokens-mlm"])
def test_an_ablation_learns_resumes_exactly_and_leaves_a_fine_tunable_encoder(prepared, tmp_path, monkeypatch, name):
    torch.set_num_threads(1)
    full = run_pretraining(job(name, 20, save_every=10), prepared, tmp_path / "full", progress=False)
    rows = metrics(full)
    assert rows[-1]["loss"] < rows[0]["loss"]
    if name != "electra15":
        assert {"main_loss", "main_acc", "gen_acc"} <= set(rows[-1])
    save = Trainer.save

    def save_then_die(self):
        save(self)
        if self.step == 10:
            raise Killed

    monkeypatch.setattr(Trainer, "save", save_then_die)
    part = tmp_path / "part"
    with pytest.raises(Killed):
        run_pretraining(job(name, 20, save_every=10), prepared, part, progress=False)
    monkeypatch.undo()
    run_pretraining(job(name, 20, save_every=10), prepared, part, resume=True, progress=False)
    assert [r["loss"] for r in metrics(part)] == [r["loss"] for r in rows]
    encoder = OBJECTIVES[name].encoder
    assert (full / encoder / "model.safetensors").read_bytes() == (part / encoder / "model.safetensors").read_bytes()
    task_model = Discriminator(ModelConfig.from_dict(read_config(full / encoder), source=str(full / encoder)))
    load_encoder(task_model, full / encoder)  # the encoder weights load into a fresh task network
