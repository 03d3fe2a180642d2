"""``--reinit-layers K``: a pretrained encoder starts fine-tuning with its top K layers as random
initialisation starts them, everything else as pretrained; bad K values are named."""

import json
from types import SimpleNamespace

import pytest
import torch

from electra.cli import main
from electra.commands.demo import shipped_pair_path
from electra.config import ConfigError, FinetuneConfig, ModelConfig
from electra.finetune.run import start_encoder
from electra.model.heads import SequenceClassifier
from electra.model.io import read_config, read_weights

SOURCE = shipped_pair_path() / "discriminator"


def started(reinit_layers: int, pretrained: bool = True, seed: int = 3) -> dict[str, torch.Tensor]:
    """The encoder's starting tensors, by ``electra.*`` key."""
    cfg = ModelConfig.from_dict(read_config(SOURCE))
    torch.manual_seed(seed)
    model = SequenceClassifier(cfg, 2, 0.1, "hf")
    start_encoder(model, SimpleNamespace(cfg=cfg, source=SOURCE, vectors=None), pretrained, reinit_layers)
    return {f"electra.{k}": v for k, v in model.electra.state_dict().items()}


def test_top_layers_start_as_random_initialisation_the_rest_as_pretrained():
    saved = read_weights(SOURCE)
    layers = ModelConfig.from_dict(read_config(SOURCE)).num_hidden_layers
    top = tuple(f"electra.encoder.layer.{i}." for i in range(layers - 2, layers))
    reinit, fresh = started(2), started(0, pretrained=False)
    assert set(reinit) <= set(saved)
    for key, tensor in reinit.items():
        if key.startswith(top):
            assert torch.equal(tensor, fresh[key]), key  # the random arm's start, same seed
            if key.endswith("weight") and tensor.dim() == 2:
                assert not torch.equal(tensor, saved[key]), key
        else:
            assert torch.equal(tensor, saved[key]), key
    assert all(torch.equal(t, saved[k]) for k, t in started(0).items())  # K = 0: as pretrained
    assert not torch.equal(started(2, seed=4)[f"{top[0]}output.dense.weight"], reinit[f"{top[0]}output.dense.weight"])


def test_bad_values_are_named(tmp_path, tasks, capsys):
    with pytest.raises(ConfigError, match="reinit_layers"):
        FinetuneConfig(reinit_layers=-1)
    layers = ModelConfig.from_dict(read_config(SOURCE)).num_hidden_layers
    argv = ["finetune", "--model", str(SOURCE), "--task", "classification", "--data", str(tasks["sentiment"])]
    out = tmp_path / "too-many"
    assert main([*argv, "--out", str(out), "--reinit-layers", str(layers + 1), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"--reinit-layers {layers + 1}" in err and f"only {layers} encoder layers" in err
    assert not out.exists()


def test_the_run_records_it_and_random_initialisation_ignores_it(tmp_path, tasks):
    def run(name: str, *extra: str) -> tuple[dict, dict]:
        out = tmp_path / name
        argv = ["finetune", "--model", str(SOURCE), "--task", "classification", "--data", str(tasks["sentiment"])]
        fast = ["--epochs", "1", "--max-train-examples", "32", "--no-progress", "--seeds", "1"]
        assert main([*argv, "--out", str(out), *fast, *extra]) == 0
        return json.loads((out / "results.json").read_text()), read_weights(out / "seed-1")

    (reinit, reinit_weights), (plain, plain_weights) = run("reinit", "--reinit-layers", "2"), run("plain")
    assert reinit["hyperparameters"]["reinit_layers"] == 2 and plain["hyperparameters"]["reinit_layers"] == 0
    top = "electra.encoder.layer.3.output.dense.weight"
    assert not torch.equal(reinit_weights[top], plain_weights[top])
    (_, random_weights), (_, random_reinit_weights) = (
        run("random", "--init", "random"),
        run("random-reinit", "--init", "random", "--reinit-layers", "2"),
    )
    assert random_weights.keys() == random_reinit_weights.keys()
    assert all(torch.equal(t, random_reinit_weights[k]) for k, t in random_weights.items())
