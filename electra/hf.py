"""Hugging Face checkpoints in and out: one declarative key map per layout, and its inverse.

Our networks already use ``transformers``' ELECTRA parameter names (``electra.*``,
``discriminator_predictions.*``, ``generator_predictions.*``, ``generator_lm_head``,
``classifier.*``, ``qa_outputs``), so an ELECTRA checkpoint maps onto ours by identity, less a
few buffers older ``transformers`` versions saved. BERT-family checkpoints (``BertModel``,
``BertForMaskedLM``, ``BertForPreTraining``, ...) differ only in prefixes: their encoder is ours
(post-LN layers, GELU, absolute positions, token types; no embedding projection since the
embedding width is the hidden width), their MLM head is our generator head, and the pooler and
next-sentence head have no counterpart here and are dropped.

A layout is data (:class:`Layout`): prefix renames, tried in order, and prefixes to drop.
:func:`to_ours` applies it, :func:`to_theirs` is its inverse (used to export and by the parity
tests). Weights are read from safetensors only: a folder holding only ``pytorch_model.bin`` is
refused with a message saying how to convert it, so no untrusted pickle is ever loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from electra.errors import ElectraError


@dataclass(frozen=True)
class Layout:
    """How one family's state-dict keys map onto ours."""

    name: str
    renames: tuple[tuple[str, str], ...]
    """(their prefix, our prefix) pairs, one-to-one; the first that matches a key is used."""
    aliases: tuple[tuple[str, str], ...]
    """More of their prefixes, accepted when reading only (tried after ``renames``)."""
    dropped: tuple[str, ...]
    """Their keys (prefixes or exact suffixes after the last dot) that have no counterpart."""

    def drops(self, key: str) -> bool:
        return key.startswith(self.dropped) or key.rsplit(".", 1)[-1] in self.dropped


ELECTRA = Layout(
    "electra",
    renames=(("electra.", "electra."),),  # heads keep their names too (no rule matches them)
    aliases=(
        ("embeddings.", "electra.embeddings."),
        ("embeddings_project.", "electra.embeddings_project."),
        ("encoder.", "electra.encoder."),
    ),  # a bare ElectraModel
    dropped=("position_ids",),  # a buffer older transformers versions saved
)

BERT = Layout(
    "bert",
    renames=(
        ("bert.", "electra."),
        ("cls.predictions.transform.", "generator_predictions."),
        ("cls.predictions.decoder.weight", "generator_lm_head.weight"),  # tied to the token table
        ("cls.predictions.bias", "generator_lm_head.bias"),
    ),
    aliases=(("embeddings.", "electra.embeddings."), ("encoder.", "electra.encoder.")),  # a bare BertModel
    dropped=("bert.pooler.", "pooler.", "cls.seq_relationship.", "cls.predictions.decoder.bias", "position_ids"),
)

LAYOUTS = {"electra": ELECTRA, "bert": BERT}


def layout_of(config: dict, source: str) -> Layout:
    """The layout named by a ``config.json``'s ``model_type`` (ours write 'electra')."""
    model_type = config.get("model_type", "electra")
    if model_type not in LAYOUTS:
        raise ElectraError(
            f"{source}: model_type {model_type!r} is not supported; ELECTRA and BERT "
            f"checkpoints are ({', '.join(LAYOUTS)})"
        )
    return LAYOUTS[model_type]


TIED = ("generator_lm_head.weight", "electra.embeddings.word_embeddings.weight")
"""The MLM output projection is the token table; ``save_pretrained`` stores it once."""


def to_ours(state: dict[str, torch.Tensor], layout: Layout) -> dict[str, torch.Tensor]:
    """Rename their keys to ours; dropped keys go, unknown keys are kept (the caller's strict
    load names them). A generator head saved without its tied projection gets the token table."""
    renames = layout.renames + layout.aliases
    ours = {_rename(key, renames): tensor for key, tensor in state.items() if not layout.drops(key)}
    head, table = TIED
    if head not in ours and table in ours and any(k.startswith("generator_predictions.") for k in ours):
        ours[head] = ours[table]
    return ours


def to_theirs(state: dict[str, torch.Tensor], layout: Layout) -> dict[str, torch.Tensor]:
    """The inverse of :func:`to_ours` on our keys (written in the layout's canonical prefixes)."""
    inverse = tuple((ours, theirs) for theirs, ours in layout.renames)
    return {_rename(key, inverse): tensor for key, tensor in state.items()}


def _rename(key: str, renames: tuple[tuple[str, str], ...]) -> str:
    for old, new in renames:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def check_weights_file(folder: Path) -> Path:
    """``folder/model.safetensors``, or a clear refusal (pickle-only checkpoints are not read)."""
    path = folder / "model.safetensors"
    if path.is_file():
        return path
    pickled = [name for name in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack") if (folder / name).is_file()]
    if pickled:
        raise ElectraError(
            f"{folder}: only {pickled[0]} here; weights are read from safetensors alone "
            "(pickle files can run code). Convert once with transformers: "
            "AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)"
        )
    raise ElectraError(f"{path}: not found (weights are read from safetensors only)")
