"""The embedding tables of a generator-discriminator pair: DeBERTa-v3's gradient-disentangled
sharing (GDES), stored so that every folder stays a standard model, and the row-norm cap.

With plain sharing one table serves both networks, and the generator's MLM gradient (through its
tied output projection) and the discriminator's RTD gradient pull on it together. GDES gives the
discriminator the tables ``sg(E_G) + E_delta``: the MLM loss alone trains the generator's
``E_G``, the RTD loss trains only ``E_delta`` (zero at the start) and the discriminator's body.

Here the discriminator's tables hold that sum, ``W_D = E_G + E_delta``, as ordinary parameters:
the RTD gradient with respect to ``W_D`` is the gradient with respect to ``E_delta``, so the
optimizer updates ``W_D`` as it would update ``E_delta`` (Adam's moments, clipping and skipped
steps included), and after every optimizer step ``W_D`` takes on ``E_G``'s change of that step;
the result equals keeping ``E_delta`` apart up to float rounding. The discriminator folder
(checkpoints, export, fine-tuning) therefore holds the summed table in the usual layout, and a
resumed run needs no extra state: ``E_delta = W_D - E_G`` is implied by the two folders. One
difference from keeping ``E_delta`` as its own parameter: AdamW's weight decay (0.01 x the
learning rate per step) acts on the sum, not on ``E_delta`` alone.
"""

from __future__ import annotations

import torch

from electra.model.encoder import ElectraModel, Embeddings

TABLES = ("word_embeddings", "position_embeddings", "token_type_embeddings")


def local_rows(table: torch.Tensor) -> torch.Tensor:
    """The rows this process holds: a sharded (FSDP2) table's local shard, else the table itself."""
    return table.to_local() if hasattr(table, "to_local") else table


@torch.no_grad()
def cap_row_norms_(table: torch.Tensor, cap: float) -> None:
    """Scale the rows of ``table`` longer than ``cap`` back to ``cap``, in place (a sharded table's
    local rows: FSDP shards whole rows)."""
    rows = local_rows(table)
    norms = rows.norm(dim=1, keepdim=True)
    rows.mul_((cap / norms.clamp(min=1e-12)).clamp(max=1.0))


class DisentangledTables:
    """Keeps ``target``'s tables equal to ``source``'s plus what only ``target``'s own gradient
    added: call ``before_step`` before each optimizer step and ``after_step`` after it."""

    def __init__(self, source: Embeddings, target: Embeddings) -> None:
        self.source = source
        self.target = target
        self.before: list[torch.Tensor] = []
        self.pending = False

    def pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(source, target) tables, looked up on each call: FSDP replaces the parameters."""
        return [(getattr(self.source, n).weight, getattr(self.target, n).weight) for n in TABLES]

    @torch.no_grad()
    def before_step(self) -> None:
        """Remember the source tables as they are before the optimizer changes them."""
        current = [local_rows(source) for source, _ in self.pairs()]
        if [b.shape for b in self.before] != [c.shape for c in current]:
            self.before = [torch.empty_like(c) for c in current]
        for kept, table in zip(self.before, current, strict=True):
            kept.copy_(table)
        self.pending = True

    @torch.no_grad()
    def after_step(self, cap: float | None = None) -> None:
        """Cap the source's token rows at ``cap`` (when given), then add to each target table what
        the step changed in its source table."""
        if cap is not None:
            cap_row_norms_(self.source.word_embeddings.weight, cap)
        if not self.pending:  # no step was taken since the last sync
            return
        for (source, target), before in zip(self.pairs(), self.before, strict=True):
            local_rows(target).add_(local_rows(source) - before)
        self.pending = False


def disentangled_tables(sharing: str, generator: ElectraModel, main: ElectraModel) -> DisentangledTables | None:
    """What keeps a pair built with ``recipe.embedding_sharing`` = ``sharing`` in step: for
    'gdes', ``main``'s tables following ``generator``'s; None for 'es' (one set of tables) and
    'none' (independent tables)."""
    return DisentangledTables(generator.embeddings, main.embeddings) if sharing == "gdes" else None
