"""The equivalence guard of ``electra bench`` and the command itself.

Our step computes the vocabulary projection and the MLM loss only at the selected positions;
the ``transformers`` composition computes them everywhere. With identical weights, masks and
samples both must give the same losses and the same gradient for every parameter.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from electra import cli
from electra.commands.bench import BASELINES, BERT_SPECIALS, BenchConfig, synthetic_batch
from electra.config import ModelConfig, ObjectiveConfig
from electra.objectives import OBJECTIVES

pytest.importorskip("transformers")

MODEL = ModelConfig(
    vocab_size=1200,
    embedding_size=32,
    hidden_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=96,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    max_position_embeddings=64,
)
SEQ = 40


def padded_batch():
    """Full rows and rows with padding, so that both attention masks and loss masks are exercised."""
    cfg = BenchConfig(preset="tiny", batch_size=6, seq_len=SEQ)
    batch = synthetic_batch(cfg, torch.Generator().manual_seed(5))
    batch.input_ids.clamp_(max=MODEL.vocab_size - 1)
    for row, length in ((1, 12), (3, 25), (4, 7)):
        batch.input_ids[row, length - 1] = BERT_SPECIALS.sep
        batch.input_ids[row, length:] = BERT_SPECIALS.pad
        batch.attention_mask[row, length:] = 0
        batch.token_type_ids[row, length:] = 0
    return batch


def twin_pair(objective: str, recipe: ObjectiveConfig):
    """Our objective and the HF composition, holding the same weights."""
    torch.manual_seed(0)
    ours = OBJECTIVES[objective].build(MODEL, recipe, BERT_SPECIALS, SEQ)
    theirs = BASELINES[objective](MODEL, recipe, SEQ)
    for name, network in ours.networks().items():
        target = theirs.mlm if name == "mlm" else getattr(theirs, name)
        result = target.load_state_dict(network.state_dict(), strict=False)
        assert not result.unexpected_keys
        assert all("position_ids" in k or "token_type_ids" in k for k in result.missing_keys), result.missing_keys
    return ours, theirs


def gradients(networks: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    return {
        f"{net}/{name}": p.grad
        for net, module in networks.items()
        for name, p in module.named_parameters(remove_duplicate=False)
    }


@pytest.mark.parametrize("disallow_correct", [False, True])
def test_electra_step_equals_transformers_composition(disallow_correct):
    recipe = ObjectiveConfig(disallow_correct=disallow_correct)
    ours, theirs = twin_pair("electra", recipe)
    batch = padded_batch()
    forward = ours.run(batch, torch.Generator().manual_seed(3))
    out = ours.score(forward, batch.attention_mask)
    ref = theirs(batch, torch.Generator().manual_seed(3))

    assert torch.equal(forward.samples, ref["samples"])  # same masks and the same draws
    assert forward.labels.sum() > 0
    stats = out.stats
    torch.testing.assert_close(stats["mlm_loss_sum"] / stats["selected"], ref["mlm_loss"].detach())
    torch.testing.assert_close(stats["disc_loss_sum"] / stats["real_tokens"], ref["disc_loss"].detach())
    torch.testing.assert_close(out.loss, ref["loss"])

    out.loss.backward()
    ref["loss"].backward()
    mine = gradients(ours.networks())
    other = gradients({"discriminator": theirs.discriminator, "generator": theirs.generator})
    assert set(mine) <= set(other)
    for name, grad in mine.items():
        assert grad is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(grad, other[name], rtol=1e-4, atol=1e-6, msg=name)


def test_mlm_step_equals_transformers_masked_lm():
    ours, theirs = twin_pair("mlm", ObjectiveConfig())
    batch = padded_batch()
    out = ours(batch, torch.Generator().manual_seed(9))
    ref = theirs(batch, torch.Generator().manual_seed(9))
    torch.testing.assert_close(out.loss, ref["loss"])
    out.loss.backward()
    ref["loss"].backward()
    other = dict(theirs.mlm.named_parameters(remove_duplicate=False))
    for name, p in ours.mlm.named_parameters(remove_duplicate=False):
        torch.testing.assert_close(p.grad, other[name].grad, rtol=1e-4, atol=1e-6, msg=name)


def test_a_different_mask_is_detected():
    """The guard can fail: another masking seed gives other losses."""
    ours, theirs = twin_pair("electra", ObjectiveConfig())
    batch = padded_batch()
    out = ours(batch, torch.Generator().manual_seed(3))
    ref = theirs(batch, torch.Generator().manual_seed(4))
    assert not torch.allclose(out.loss, ref["loss"])


def test_bench_command_prints_the_documented_json(capsys):
    code = cli.main(
        [
            "bench",
            "--preset",
            "tiny",
            "--batch-size",
            "4",
            "--seq-len",
            "32",
            "--repeats",
            "3",
            "--warmup",
            "1",
            "--no-memory",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("ours_tokens_per_s", "baseline_tokens_per_s", "ratio", "flops_per_token", "peak_gflops", "mfu"):
        assert result[key] > 0, key
    assert result["ratio"] == pytest.approx(result["ours_tokens_per_s"] / result["baseline_tokens_per_s"])
    assert result["flops_per_token"] < result["baseline_flops_per_token"]  # vocabulary only where selected


def test_bench_rejects_bad_values(capsys):
    assert cli.main(["bench", "--preset", "nope"]) != 0
    assert "nope" in capsys.readouterr().err
    with pytest.raises(Exception, match="seq_len"):
        dataclasses.replace(BenchConfig(), seq_len=4)
