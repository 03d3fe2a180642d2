"""Helpers shared by several test modules (test modules never import each other).

Pretraining: a small model shape, ``job`` (a short ``PretrainJob`` on it), ``metrics`` (a run's
rows), ``Killed`` (a stand-in for a process dying after a checkpoint) and ``TINY`` (CLI
overrides for a run of the same size). Fine-tuning: small synthetic tasks written on demand (no
task data is committed), each learnable from a handful of words.
"""

import json
import random
from pathlib import Path

from electra.config import ModelConfig, ObjectiveConfig, TrainConfig
from electra.pretrain import PretrainJob

# ---------------------------------------------------------------- pretraining runs

MODEL = ModelConfig(
    embedding_size=32,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=64,
)


def job(objective: str, steps: int, **train) -> PretrainJob:
    cfg = dict(
        batch_size=16, lr=2e-3, warmup_steps=10, max_steps=steps, log_every=5, save_every=1000, device="cpu", seed=7
    )
    cfg.update(train)
    return PretrainJob(objective, MODEL, ObjectiveConfig(generator_fraction=0.5), TrainConfig(**cfg))


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


class Killed(Exception):
    """Stands in for the process dying right after a checkpoint."""


TINY = [
    "--model.embedding_size",
    "32",
    "--model.hidden_size",
    "32",
    "--model.num_hidden_layers",
    "2",
    "--model.num_attention_heads",
    "2",
    "--model.intermediate_size",
    "64",
    "--model.hidden_dropout_prob",
    "0.1",
    "--model.attention_probs_dropout_prob",
    "0.1",
    "--train.batch_size",
    "8",
    "--train.log_every",
    "5",
    "--train.warmup_steps",
    "10",
    "--train.device",
    "cpu",
    "--no-progress",
]


# ---------------------------------------------------------------- synthetic fine-tuning tasks

FILLER = [
    "the",
    "ship",
    "sea",
    "man",
    "day",
    "was",
    "it",
    "a",
    "long",
    "old",
    "white",
    "whale",
    "boat",
    "in",
    "on",
    "of",
]
POSITIVE = ["good", "great", "fine", "happy", "love"]
NEGATIVE = ["bad", "poor", "sad", "hate", "awful"]
NAMES = ["ahab", "ishmael", "starbuck", "queequeg"]


def sentence(rng: random.Random, extra: list[str]) -> list[str]:
    words = [rng.choice(FILLER) for _ in range(6)]
    for word in extra:
        words.insert(rng.randrange(len(words) + 1), word)
    return words


def write_sentiment(folder: Path, rng: random.Random, sizes=(400, 100, 100)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in zip(("train", "dev", "test"), sizes):
        rows = ["sentence\tlabel"]
        for _ in range(size):
            label = rng.choice(("pos", "neg"))
            rows.append(" ".join(sentence(rng, [rng.choice(POSITIVE if label == "pos" else NEGATIVE)])) + "\t" + label)
        (folder / f"{name}.tsv").write_text("\n".join(rows) + "\n")
    return folder


def write_regression(folder: Path, rng: random.Random) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in (("train", 400), ("dev", 100)):
        rows = ["sentence\tscore"]
        for _ in range(size):
            good = rng.randint(0, 2)
            rows.append(" ".join(sentence(rng, rng.sample(POSITIVE, good))) + f"\t{good * 1.5 - 1.0:.2f}")
        (folder / f"{name}.tsv").write_text("\n".join(rows) + "\n")
    return folder


def write_ner(folder: Path, rng: random.Random) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in (("train", 300), ("dev", 60), ("test", 60)):
        lines = []
        for _ in range(size):
            words = sentence(rng, [])
            at = rng.randrange(len(words))
            tagged = [(w, "O") for w in words]
            tagged[at:at] = [(rng.choice(NAMES), "B-PER")]
            if rng.random() < 0.5:
                tagged[0:0] = [("new", "B-LOC"), ("york", "I-LOC")]
            lines += [f"{w}\t{t}" for w, t in tagged] + [""]
        (folder / f"{name}.conll").write_text("\n".join(lines))
    return folder


def write_qa(folder: Path, rng: random.Random) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in (("train", 300), ("dev", 60), ("test", 60)):
        paragraphs = []
        for i in range(size):
            answerable = rng.random() < 0.7
            name_ = rng.choice(NAMES)
            words = sentence(rng, [f"captain {name_}" if answerable else name_])
            context = " ".join(words)
            if answerable:  # the answer is the word right after "captain"
                start = context.index("captain ") + len("captain ")
                qa = {
                    "id": f"{name}-{i}",
                    "question": "who is the captain ?",
                    "is_impossible": False,
                    "answers": [{"text": name_, "answer_start": start}],
                }
            else:
                qa = {"id": f"{name}-{i}", "question": "who is the captain ?", "is_impossible": True, "answers": []}
            paragraphs.append({"context": context, "qas": [qa]})
        body = {"version": "v2.0", "data": [{"title": "synthetic", "paragraphs": paragraphs}]}
        (folder / f"{name}.json").write_text(json.dumps(body))
    return folder
