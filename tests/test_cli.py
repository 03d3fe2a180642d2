"""The real entry point, end to end on tiny text, and the errors it promises for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from electra.cli import main

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
TINY = [
    "--model.embedding_size",
    "32",
    "--model.hidden_size",
    "32",
    "--model.num_hidden_layers",
    "1",
    "--model.num_attention_heads",
    "2",
    "--model.intermediate_size",
    "64",
    "--train.batch_size",
    "8",
    "--train.device",
    "cpu",
    "--train.log_every",
    "2",
    "--train.save_every",
    "4",
    "--no-progress",
]


def electra(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "electra", *args], capture_output=True, text=True, timeout=300)


def test_prepare_pretrain_validate_through_the_cli(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    prep = electra(
        "prepare",
        str(CORPUS / "mobydick_sample.txt.gz"),
        "--out",
        str(data),
        "--vocab-size",
        "1000",
        "--max-seq-len",
        "48",
    )
    assert prep.returncode == 0, prep.stderr
    meta = json.loads((data / "meta.json").read_text())
    assert meta["vocab_size"] <= 1000 and meta["max_seq_len"] == 48 and meta["counts"]["examples"] > 0

    train = electra(
        "pretrain",
        "--data",
        str(data),
        "--out",
        str(run),
        "--preset",
        "tiny",
        "--objective",
        "electra",
        "--max-steps",
        "6",
        *TINY,
    )
    assert train.returncode == 0, train.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    for key in ("step", "loss", "disc_loss", "disc_baseline_loss", "gen_acc", "lr", "tokens_per_s"):
        assert key in rows[-1]
    assert json.loads((run / "discriminator" / "config.json").read_text())["hidden_size"] == 32

    checked = electra(
        "validate",
        "--model",
        str(run),
        "--data",
        str(CORPUS / "austen_sample.txt.gz"),
        "--json",
        "--max-examples",
        "50",
    )
    assert checked.returncode == 0, checked.stderr
    result = json.loads(checked.stdout)
    for key in ("disc_loss", "baseline_loss", "disc_auc", "disc_recall", "disc_precision", "gen_acc"):
        assert key in result
    assert 0.0 <= result["disc_auc"] <= 1.0


def test_dry_run_reports_parameter_counts(capsys):
    assert main(["pretrain", "--preset", "small", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 13e6 < report["discriminator_parameters"] < 15e6
    assert report["generator_parameters"] < report["discriminator_parameters"]


def test_config_values_from_yaml_override_the_preset(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("model:\n  hidden_size: 64\n  num_attention_heads: 2\nrecipe:\n  generator_fraction: 0.5\n")
    assert main(["pretrain", "--preset", "tiny", "--config", str(config), "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["hidden_size"] == 64 and report["generator_model"]["hidden_size"] == 32


@pytest.mark.parametrize(
    "args,message",
    [
        (["pretrain", "--dry-run", "--model.num_attention_heads", "3"], "model.num_attention_heads"),
        (["pretrain", "--dry-run", "--train.lr", "-1"], "train.lr"),
        (["pretrain", "--dry-run", "--recipe.mask_prob", "1.5"], "recipe.mask_prob"),
        (["pretrain", "--dry-run", "--train.batch_size", "10", "--train.grad_accum", "3"], "train.grad_accum"),
        (["pretrain", "--preset", "huge", "--dry-run"], "unknown preset 'huge'"),
        (["pretrain", "--dry-run", "--train.device", "bogus"], "train.device"),
        (["validate", "--model", "x", "--data", "y", "--batch-size", "0"], "no 'generator' folder"),
        (["prepare", "/does/not/exist.txt", "--out", "/tmp/x"], "/does/not/exist.txt"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_pretrain_on_a_folder_that_was_not_prepared(tmp_path, capsys):
    assert main(["pretrain", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--max-steps", "1"]) == 2
    assert "meta.json" in capsys.readouterr().err


def test_prepare_refuses_input_with_no_text(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary" * 100)
    assert main(["prepare", str(tmp_path / "empty.txt"), str(tmp_path / "blob.txt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "empty.txt" in err and "blob.txt" in err


def test_validate_rejects_a_folder_without_models(tmp_path, capsys):
    assert main(["validate", "--model", str(tmp_path), "--data", str(CORPUS), "--json"]) == 2
    assert "generator" in capsys.readouterr().err


def test_validate_rejects_corrupt_weights(tmp_path, capsys, prepared):
    from electra.config import ModelConfig
    from electra.model.io import save_network
    from electra.model.networks import build_pair

    generator, discriminator = build_pair(
        ModelConfig(
            vocab_size=2000,
            embedding_size=16,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        ),
        0.5,
    )
    save_network(generator, tmp_path / "generator", prepared)
    save_network(discriminator, tmp_path / "discriminator", prepared)
    (tmp_path / "discriminator" / "model.safetensors").write_bytes(b"not safetensors at all")
    assert main(["validate", "--model", str(tmp_path), "--data", str(prepared), "--json"]) == 2
    assert "model.safetensors" in capsys.readouterr().err


def test_a_few_small_preset_steps_run_on_cpu(prepared, tmp_path):
    run = tmp_path / "small"
    code = main(
        [
            "pretrain",
            "--data",
            str(prepared),
            "--out",
            str(run),
            "--preset",
            "small",
            "--max-steps",
            "2",
            "--train.batch_size",
            "4",
            "--train.device",
            "cpu",
            "--train.log_every",
            "1",
            "--no-progress",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    config = json.loads((run / "discriminator" / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["embedding_size"]) == (12, 256, 128)


def test_validate_rejects_nonpositive_sizes(capsys):
    from electra.commands.demo import shipped_pair_path

    assert main(["validate", "--model", str(shipped_pair_path()), "--data", str(CORPUS), "--batch-size", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err


@pytest.mark.parametrize("preset_name", ["tiny", "tiny-budget", "small"])
def test_pretrain_help_describes_every_field_with_the_presets_values(preset_name):
    from electra.cli import pretrain_parser
    from electra.config import preset

    parser = pretrain_parser(preset_name)
    fields = [a for a in parser._actions if a.dest.split(".")[0] in ("model", "recipe", "train") and "." in a.dest]
    assert len(fields) > 40
    undescribed = [a.dest for a in fields if not (a.help or "").strip() or (a.help or "").startswith("(type")]
    assert undescribed == []
    lr = next(a for a in fields if a.dest == "train.lr")
    assert parser.get_defaults()["train"]["lr"] == preset(preset_name).train.lr
    assert parser.get_defaults()["model"]["init_scheme"] == preset(preset_name).model.init_scheme
    assert parser.get_defaults()["recipe"]["embedding_norm_cap"] == preset(preset_name).objective.embedding_norm_cap
    assert lr.help.startswith("Peak learning rate")


def test_pretrain_help_with_a_preset_shows_that_presets_values(capsys):
    import re

    shown = {}
    for name in ("tiny", "small"):
        with pytest.raises(SystemExit):
            main(["pretrain", "--preset", name, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        layers = re.search(
            r"--model\.num_hidden_layers NUM_HIDDEN_LAYERS Number of transformer layers\.[^)]*default: (\d+)\)", text
        )
        lr = re.search(r"--train\.lr LR Peak learning rate\.[^)]*default: ([0-9.e-]+)\)", text)
        shown[name] = (int(layers.group(1)), float(lr.group(1)))
    assert shown == {"tiny": (4, 1e-3), "small": (12, 5e-4)}


@pytest.mark.parametrize("command", ["pretrain", "bench", "compare"])
def test_preset_help_names_the_fields_a_preset_sets(command):
    from electra.cli import COMMANDS

    parser = COMMANDS[command][0]([])
    text = parser._option_string_actions["--preset"].help
    for field in ("hidden_size", "num_hidden_layers", "mask_prob", "generator_fraction"):
        assert field in text
    assert ("train: batch_size, lr" in text) == (command != "bench")  # bench uses the preset's model and recipe only


def test_every_option_of_every_command_has_help():
    import argparse

    from electra.cli import COMMANDS

    for command, (make_parser, _) in COMMANDS.items():
        parser = make_parser([])
        shown = [a for a in parser._actions if "-h" not in a.option_strings and a.help != argparse.SUPPRESS]
        assert len(shown) > 1, command
        undescribed = [a.option_strings or [a.dest] for a in shown if not (a.help or "").strip()]
        assert undescribed == [], command


def test_dataclass_options_keep_their_spelling_and_types():
    from electra.cli import COMMANDS, config_from
    from electra.config import FinetuneConfig, PrepareConfig

    parse = {name: COMMANDS[name][0]([]).parse_args for name in ("prepare", "finetune", "compare", "glue")}
    ns = parse["prepare"](
        ["a.txt", "--out", "o", "--vocab-size", "1000", "--max-seq-len", "48", "--tokenizer", "v.txt"]
    )
    assert config_from(PrepareConfig, ns) == PrepareConfig(vocab_size=1000, max_seq_len=48, tokenizer="v.txt")
    required = {
        "finetune": ["--model", "m", "--task", "sst2", "--data", "d", "--out", "o"],
        "glue": ["--model", "m", "--data", "d", "--out", "o"],
        "compare": ["--data", "d", "--task-data", "t", "--task", "sst2", "--out", "o", "--budget", "1e12"],
    }
    for command, argv in required.items():
        ns = parse[command]([*argv, "--layer-decay", "0.9", "--max-seq-length", "64", "--head", "reference"])
        settings = config_from(FinetuneConfig, ns, skip=("device",) if command == "compare" else ())
        assert (settings.layer_decay, settings.max_seq_length, settings.head, settings.lr) == (
            0.9,
            64,
            "reference",
            None,
        )
        with pytest.raises(SystemExit):
            parse[command]([*argv, "--layer_decay", "0.9"])  # spelled as before: hyphens only
    compare = parse["compare"]([*required["compare"], "--device", "cpu"])
    assert config_from(FinetuneConfig, compare, skip=("device",)).device == "auto"  # --device is compare's own


def test_config_errors_name_their_field_and_gain_the_group_in_the_cli(capsys):
    import pickle

    from electra.config import ModelConfig
    from electra.errors import ConfigError, ElectraError

    with pytest.raises(ConfigError) as caught:
        ModelConfig(hidden_size=128, num_attention_heads=3)
    error = caught.value
    assert isinstance(error, ElectraError)
    assert (error.field, error.message) == ("num_attention_heads", "3 does not divide hidden_size 128")
    assert str(error) == "invalid config value for 'num_attention_heads': 3 does not divide hidden_size 128"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.field, copy.message, str(copy)) == (ConfigError, error.field, error.message, str(error))
    assert main(["pretrain", "--dry-run", "--model.num_attention_heads", "3"]) == 2
    expected = "error: invalid config value for 'model.num_attention_heads': 3 does not divide hidden_size 128"
    assert expected in capsys.readouterr().err
    assert main(["finetune", "--model", "m", "--task", "sst2", "--data", "d", "--out", "o", "--layer-decay", "2"]) == 2
    assert "invalid config value for 'layer_decay': must be in (0, 1]" in capsys.readouterr().err
