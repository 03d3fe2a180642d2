"""The token table's start from corpus token vectors, and its freezing (``recipe.token_vectors``,
``recipe.freeze_token_table``; the vectors come from :mod:`electra.data.vectors`).

Which columns the vectors take: every column of the table, or under ``init_scheme='local'`` those
the position sinusoids leave to the words (the word table is zero in the position columns, so
that they carry position only; :mod:`electra.model.init`). The first components go in, as many as
fit, scaled so that their standard deviation over the rows they fill is the initializer's: the
table keeps the scale every other weight was made for.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from electra.config import ModelConfig
from electra.errors import ElectraError
from electra.model.init import table_frequencies


def word_columns(cfg: ModelConfig) -> range:
    """The token-table columns that hold the words' own values under ``cfg.init_scheme``."""
    first = 2 * table_frequencies(cfg.embedding_size) if cfg.init_scheme == "local" else 0
    return range(first, cfg.embedding_size)


def token_tables(networks: Iterable[nn.Module]) -> list[torch.Tensor]:
    """The distinct token (word) tables of ``networks`` (a shared table once)."""
    tables = {}
    for network in networks:
        table = network.electra.embeddings.word_embeddings.weight
        tables.setdefault(id(table), table)
    return list(tables.values())


@torch.no_grad()
def place_token_vectors(tables: Iterable[torch.Tensor], vectors: torch.Tensor, cfg: ModelConfig) -> int:
    """Write ``vectors`` (vocab, N) into the word columns of every table, in place; returns how many
    components went in. Rows where the vectors are all zero keep what they hold."""
    columns = word_columns(cfg)
    width = min(len(columns), vectors.shape[1])
    for table in tables:
        if vectors.shape[0] != table.shape[0]:
            raise ElectraError(
                f"token vectors for {vectors.shape[0]} ids, but the model's vocabulary has {table.shape[0]}: "
                f"they were computed on data prepared with another tokenizer"
            )
        block = vectors[:, :width].to(torch.float32)
        seen = block.abs().sum(dim=1) > 0
        if not seen.any():
            raise ElectraError("the token vectors are all zero: the data they were computed on holds no text")
        scaled = block / block[seen].std() * cfg.initializer_range
        rows = seen.nonzero().ravel().to(table.device)
        cols = torch.arange(columns.start, columns.start + width, device=table.device)
        table[rows[:, None], cols[None, :]] = scaled[seen].to(table.device, table.dtype)
    return width


def freeze_token_tables(networks: Iterable[nn.Module]) -> None:
    """Exclude every network's token table (and the output projection tied to it) from training."""
    for table in token_tables(networks):
        table.requires_grad_(False)
