"""Small synthetic tasks written by the tests (no task data is committed): each is learnable from
a handful of words, so a few fine-tuning steps of the shipped tiny model must solve it."""

import json
import random
from pathlib import Path

import pytest

FILLER = "the ship sea man day was it a long old white whale boat in on of".split()
POSITIVE = "good great fine happy love".split()
NEGATIVE = "bad poor sad hate awful".split()
NAMES = "ahab ishmael starbuck queequeg".split()


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
                qa = {"id": f"{name}-{i}", "question": "who is the captain ?", "is_impossible": False,
                      "answers": [{"text": name_, "answer_start": start}]}
            else:
                qa = {"id": f"{name}-{i}", "question": "who is the captain ?", "is_impossible": True, "answers": []}
            paragraphs.append({"context": context, "qas": [qa]})
        body = {"version": "v2.0", "data": [{"title": "synthetic", "paragraphs": paragraphs}]}
        (folder / f"{name}.json").write_text(json.dumps(body))
    return folder


@pytest.fixture(scope="session")
def tasks(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tasks")
    rng = random.Random(7)
    return {"sentiment": write_sentiment(root / "sentiment", rng), "regression": write_regression(root / "regression", rng),
            "ner": write_ner(root / "ner", rng), "qa": write_qa(root / "qa", rng)}
