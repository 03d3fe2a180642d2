"""electra detect / corrupt: per-token scores from the shipped tiny pair, in every output form."""

from __future__ import annotations

import json
import statistics

import pytest

from electra import cli
from electra.commands.demo import shipped_pair_path
from electra.commands.detect import detect, load_detector

SHIPPED = str(shipped_pair_path())

PLANTED = [  # (sentence, original word, planted replacement)
    ("The president said that the nation must work together to build a stronger economy.", "together", "river"),
    (
        "It is a truth universally acknowledged that a single man in possession of a good fortune must be in "
        "want of a wife.",
        "wife",
        "the",
    ),
    (
        "Call me Ishmael. Some years ago I thought I would sail about a little and see the watery part of the world.",
        "sail",
        "eat",
    ),
    ("We must reduce taxes and increase the number of jobs for the American people.", "jobs", "of"),
    ("She was the youngest of the two daughters of a most affectionate father.", "father", "and"),
    ("The ship sailed across the ocean in the storm.", "ocean", "president"),
]


def test_planted_replacements_rank_among_the_most_suspicious_tokens():
    discriminator, tokenizer = load_detector(shipped_pair_path())
    percentiles = []
    for sentence, original, planted in PLANTED:
        scores = detect(discriminator, tokenizer, sentence.replace(original, planted, 1))
        position = next(i for i, s in enumerate(scores) if s.token == planted)
        rank = sorted(scores, key=lambda s: -s.p_replaced).index(scores[position])
        percentiles.append(rank / len(scores))
    # a detector that had learned nothing would put them in the middle (0.5) on average
    assert statistics.mean(percentiles) < 0.35, percentiles
    assert min(percentiles) == 0.0  # at least one planted word is the single most suspicious token


def test_detect_json_and_html(tmp_path, capsys):
    page = tmp_path / "heat.html"
    assert (
        cli.main(["detect", "--model", SHIPPED, "The ship sailed across the sea.", "--json", "--html", str(page)]) == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert [s["token"] for s in scores] == ["the", "ship", "sailed", "across", "the", "sea", "."]
    assert all(0.0 <= s["p_replaced"] <= 1.0 and set(s) == {"token", "p_replaced"} for s in scores)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count('class="t"') == len(scores)
    assert "<script" not in text and "http" not in text  # self-contained


def test_detect_terminal_colour_only_when_asked(capsys):
    cli.main(["detect", "--model", SHIPPED, "The ship sailed.", "--color", "never"])
    plain = capsys.readouterr().out
    cli.main(["detect", "--model", SHIPPED, "The ship sailed.", "--color", "always"])
    coloured = capsys.readouterr().out
    assert "\033[" not in plain and "\033[48;2;" in coloured and "sailed" in plain


def test_corrupt_shows_replacements_and_what_was_caught(capsys):
    sentence = "The president said that the nation must work together to build a stronger economy."
    assert cli.main(["corrupt", "--model", SHIPPED, sentence, "--json", "--seed", "4"]) == 0
    scores = json.loads(capsys.readouterr().out)
    replaced = [s for s in scores if "original" in s]
    assert replaced and all(s["original"] != s["token"] for s in replaced)
    assert len(scores) - len(replaced) > len(replaced)
    cli.main(["corrupt", "--model", SHIPPED, sentence, "--seed", "4", "--color", "never"])
    out = capsys.readouterr().out
    assert f"of {len(replaced)} replacements" in out


def test_bad_inputs_are_named(tmp_path, capsys):
    assert cli.main(["detect", "--model", SHIPPED, "   "]) == 2
    assert "empty" in capsys.readouterr().err
    assert cli.main(["detect", "--model", str(tmp_path / "nope"), "text"]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(["corrupt", "--model", SHIPPED, "text", "--mask-prob", "2"]) == 2
    assert "--mask-prob" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["detect", "text"])  # --model is required
