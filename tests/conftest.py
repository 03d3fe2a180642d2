"""Shared fixtures: a small prepared corpus cut from public-domain text (tests/fixtures)."""

from pathlib import Path

import pytest

from electra.config import PrepareConfig
from electra.data.prepare import prepare

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "corpus"


@pytest.fixture(autouse=True)
def _restore_torch_state():
    """Seeds, the deterministic-algorithms switch and thread counts a test changes do not leak
    into the next test."""
    from electra.runtime import preserved_torch_state

    with preserved_torch_state():
        yield


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Path:
    """The fixture corpus with a 2,000-id tokenizer and 64-token examples."""
    out = tmp_path_factory.mktemp("prepared")
    prepare([CORPUS], out, PrepareConfig(vocab_size=2000, max_seq_len=64), progress=False)
    return out


@pytest.fixture(scope="session")
def prepared_vectors(prepared, tmp_path_factory) -> Path:
    """``prepared`` plus 32-wide token vectors (``prepare --token-vectors 32``: the test models' width)."""
    import shutil

    from electra.data.loader import load_meta
    from electra.data.vectors import write_token_vectors

    out = tmp_path_factory.mktemp("vectors") / "data"
    shutil.copytree(prepared, out)
    write_token_vectors(out, load_meta(out), 32)
    return out
