"""The ``tasks`` fixture: small synthetic tasks written by the tests (no task data is committed;
the writers are in ``tests/helpers.py``). Each is learnable from a handful of words, so a few
fine-tuning steps of the shipped tiny model must solve it."""

import random
from pathlib import Path

import pytest

from tests.helpers import write_ner, write_qa, write_regression, write_sentiment


@pytest.fixture(scope="session")
def tasks(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tasks")
    rng = random.Random(7)
    return {
        "sentiment": write_sentiment(root / "sentiment", rng),
        "regression": write_regression(root / "regression", rng),
        "ner": write_ner(root / "ner", rng),
        "qa": write_qa(root / "qa", rng),
    }
