"""``electra detect`` and ``electra corrupt``: what the discriminator sees, token by token.

``detect`` runs a discriminator over a text and gives every token its probability of having
been replaced. ``corrupt`` lets the pair's generator replace ~15% of a text's tokens first and
shows which replacements the discriminator caught. Both render as a terminal table (coloured
when the output is a terminal), JSON, or a self-contained HTML heat-map.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer

from electra.commands.validate import Pair
from electra.config import ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.errors import ElectraError
from electra.model.io import load_network, network_folder
from electra.model.networks import Discriminator
from electra.objectives import ElectraObjective
from electra.tokenizer import load_tokenizer

FLAG = 0.5
"""A token with P(replaced) above this is flagged."""


@dataclass
class TokenScore:
    token: str
    p_replaced: float
    original: str | None = None
    """For ``corrupt``: the token that was there before the generator replaced it (None: kept)."""


def load_detector(path: Path) -> tuple[Discriminator, Tokenizer]:
    """A discriminator and its tokenizer from a run, a checkpoint, a pair or a model folder."""
    folder = network_folder(Path(path), "discriminator")
    return load_network(Discriminator, folder).eval(), load_tokenizer(folder)


def encode(tokenizer: Tokenizer, text: str, max_positions: int) -> PretrainBatch:
    """``[CLS] text [SEP]`` as a batch of one; texts too long for the model are an error."""
    if not text.strip():
        raise ElectraError("the text is empty")
    ids = tokenizer.encode(text).ids
    if len(ids) > max_positions:
        raise ElectraError(f"the text is {len(ids)} tokens long; the model takes at most {max_positions}")
    tensor = torch.tensor([ids])
    return PretrainBatch(tensor, torch.ones_like(tensor), torch.zeros_like(tensor))


@torch.no_grad()
def detect(discriminator: Discriminator, tokenizer: Tokenizer, text: str) -> list[TokenScore]:
    """P(replaced) for every token of ``text`` ([CLS] and [SEP] left out)."""
    batch = encode(tokenizer, text, discriminator.config.max_position_embeddings)
    logits = discriminator(batch.input_ids, batch.attention_mask, batch.token_type_ids)[0]
    probs = torch.sigmoid(logits.float())
    ids = batch.input_ids[0]
    return [TokenScore(tokenizer.id_to_token(int(ids[i])), float(probs[i])) for i in range(1, len(ids) - 1)]


@torch.no_grad()
def corrupt(pair: Pair, text: str, seed: int = 0, mask_prob: float = 0.15) -> list[TokenScore]:
    """The generator replaces ``mask_prob`` of the tokens (never by the same token); the
    discriminator then scores every token of the corrupted text."""
    batch = encode(pair.tokenizer, text, pair.discriminator.config.max_position_embeddings)
    recipe = ObjectiveConfig(mask_prob=mask_prob, disallow_correct=True)
    objective = ElectraObjective(
        pair.generator, pair.discriminator, recipe, pair.special, batch.input_ids.shape[1]
    ).eval()
    out = objective.run(batch, torch.Generator().manual_seed(seed))
    probs = torch.sigmoid(out.disc_logits[0].float())
    written, original = out.disc_input[0], batch.input_ids[0]
    token = pair.tokenizer.id_to_token
    return [
        TokenScore(token(int(written[i])), float(probs[i]), token(int(original[i])) if bool(out.labels[0, i]) else None)
        for i in range(1, len(original) - 1)
    ]


def as_json(scores: list[TokenScore]) -> list[dict]:
    return [{k: v for k, v in asdict(s).items() if v is not None or k != "original"} for s in scores]


def terminal_table(scores: list[TokenScore], color: bool) -> str:
    """One line per token: the token (shaded by P when ``color``), P(replaced), and for
    ``corrupt`` what was there before and whether the discriminator caught it."""
    corrupted = any(s.original is not None for s in scores)
    header = f"  {'token':<16}{'P(replaced)':>12}" + (f"  {'original':<16}{'':<8}" if corrupted else "")
    lines = [header]
    for s in scores:
        name = f"{s.token:<16}"
        if color:
            name = f"{_ansi_background(s.p_replaced)}{name}\033[0m"
        flag = "*" if s.p_replaced > FLAG else " "
        line = f"  {name}{s.p_replaced:>11.2f}{flag}"
        if corrupted:
            verdict = "" if s.original is None else ("caught" if s.p_replaced > FLAG else "missed")
            line += f"  {s.original or '':<16}{verdict:<8}"
        lines.append(line.rstrip())
    lines.append(f"\n  * = flagged as replaced (P > {FLAG})")
    if corrupted:
        lines.append("  " + summary(scores))
    return "\n".join(lines)


def summary(scores: list[TokenScore]) -> str:
    replaced = [s for s in scores if s.original is not None]
    caught = sum(s.p_replaced > FLAG for s in replaced)
    false_alarms = sum(s.p_replaced > FLAG for s in scores if s.original is None)
    return (
        f"caught {caught} of {len(replaced)} replacements; {false_alarms} false alarm(s) "
        f"among {len(scores) - len(replaced)} original tokens"
    )


def _ansi_background(p: float) -> str:
    """White to red on a 24-bit terminal."""
    level = round(255 * (1 - p))
    return f"\033[48;2;255;{level};{level}m\033[38;2;0;0;0m"


def html_page(scores: list[TokenScore], title: str) -> str:
    """A self-contained page: tokens shaded by P(replaced), exact values on hover."""
    spans = []
    for s in scores:
        piece = s.token[2:] if s.token.startswith("##") else s.token
        space = "" if s.token.startswith("##") else " "
        hover = f"P(replaced) = {s.p_replaced:.3f}" + (f"; was '{s.original}'" if s.original else "")
        style = f"background: rgba(220, 30, 30, {s.p_replaced:.3f});"
        if s.original is not None:
            style += " border-bottom: 2px solid #1a5fb4;"
        spans.append(
            f'{space}<span class="t" style="{style}" title="{html.escape(hover, quote=True)}">'
            f"{html.escape(piece)}</span>"
        )
    legend = "Red: the discriminator's probability that the token was replaced." + (
        " Underlined: tokens the generator really replaced." if any(s.original for s in scores) else ""
    )
    note = f"<p>{html.escape(summary(scores))}</p>" if any(s.original for s in scores) else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:2.2}"
        ".t{padding:2px 1px;border-radius:3px}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{legend}</p>{note}\n<p>{''.join(spans).strip()}</p>\n"
        "</body></html>\n"
    )
