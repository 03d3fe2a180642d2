"""The demo's detection table, with small random pairs (the live training is exercised elsewhere)."""

import torch

from electra.commands import demo
from electra.commands.validate import load_pair
from electra.config import ModelConfig
from electra.model.io import save_network
from electra.model.networks import build_pair


def make_pair(folder, tokenizer_dir, seed):
    torch.manual_seed(seed)
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
    save_network(generator, folder / "generator", tokenizer_dir)
    save_network(discriminator, folder / "discriminator", tokenizer_dir)
    return load_pair(folder)


def test_detection_table_marks_the_replaced_tokens(prepared, tmp_path, capsys):
    shipped = make_pair(tmp_path / "shipped", prepared, 0)
    live = make_pair(tmp_path / "live", prepared, 1)
    demo.show_detections(shipped, live, "it is a truth universally acknowledged that a single man must be in want")
    out = capsys.readouterr().out
    assert "corrupted:" in out and "REPLACED" in out
    rows = [line for line in out.splitlines() if line.startswith("  ") and "REPLACED" in line]
    assert 1 <= len(rows) <= 4  # 20% of ~16 tokens, every one of them really replaced


def test_shipped_pair_is_packaged_and_loads():
    pair = load_pair(demo.shipped_pair_path())
    assert pair.generator.config.hidden_size < pair.discriminator.config.hidden_size
    assert (demo.shipped_pair_path() / "TRAINING.md").is_file()
    assert demo.corpus_files()
