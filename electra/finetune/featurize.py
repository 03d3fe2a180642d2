"""Examples -> model inputs: tokenization, sub-word alignment for tagging, QA context windows.

Every split becomes one :class:`Features`: unpadded token ids per model input plus what is
needed to map outputs back to the examples (which word a token starts, which characters of
the context a token covers). Batches are padded to their own longest input by
:func:`collate`, so short sentences cost short sequences.

Choices:

- Sentences and sentence pairs are truncated to ``max_len`` (longest segment first).
- Tagging labels sit on the first sub-token of each word; the other sub-tokens get
  ``IGNORE`` and are not scored. A class or tag the model does not know (absent from training)
  gets ``UNSEEN`` / ``IGNORE`` as its target: never predicted, it is scored as an error from
  the example's own labels. Words cut off by truncation (or that the normalizer
  removes entirely) get no prediction from the model; :class:`TaggedFeatures` records them.
- QA: ``[CLS] question [SEP] context-window [SEP]``. The question keeps at most
  ``max_query`` tokens; the context is cut into windows that start every ``doc_stride``
  tokens (the meaning ``doc_stride`` has in BERT's and ELECTRA's SQuAD code, not the
  overlap of ``transformers``' examples). A window that does not hold the whole answer, and
  every window of an unanswerable question, is trained to point at [CLS].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tokenizers import Tokenizer

from electra.errors import ElectraError
from electra.finetune.examples import QaExample, TaggedExample, TextExample
from electra.finetune.metrics import UNSEEN
from electra.tokenizer import SpecialIds

IGNORE = -100
"""Target of positions that are not scored (``F.cross_entropy``'s ``ignore_index``)."""


@dataclass
class Features:
    """Unpadded inputs of one split; ``targets`` is None for unlabelled data."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    targets: list | None

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class TaggedFeatures(Features):
    word_starts: list[list[int]] = field(default_factory=list)
    """Per example, the token position of each word's first sub-token (-1: the word got none)."""


@dataclass
class QaFeatures(Features):
    example_index: list[int] = field(default_factory=list)
    """Which example each window belongs to."""
    offsets: list[list[tuple[int, int] | None]] = field(default_factory=list)
    """Per window and token: the context characters it covers, None outside the context."""


def truncating(tok: Tokenizer, max_len: int) -> Tokenizer:
    """A copy of ``tok`` that truncates to ``max_len`` tokens, specials included, and never pads."""
    copy = Tokenizer.from_str(tok.to_str())
    copy.no_padding()
    copy.enable_truncation(max_length=max_len, strategy="longest_first")
    return copy


def plain(tok: Tokenizer) -> Tokenizer:
    """A copy of ``tok`` without truncation or padding."""
    copy = Tokenizer.from_str(tok.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


# ---------------------------------------------------------------- sentences and pairs


def encode_texts(
    examples: list[TextExample], tok: Tokenizer, max_len: int, label_ids: dict[str, int] | None
) -> Features:
    """Classification (``label_ids`` given) or regression (``label_ids`` None) inputs."""
    inputs = [ex.texts[0] if len(ex.texts) == 1 else tuple(ex.texts[:2]) for ex in examples]
    encodings = truncating(tok, max_len).encode_batch(inputs)
    targets = None
    if examples and examples[0].label is not None:
        targets = [label_ids.get(ex.label, UNSEEN) if label_ids is not None else float(ex.label) for ex in examples]
    return Features([e.ids for e in encodings], [e.type_ids for e in encodings], targets)


# ---------------------------------------------------------------- tagging


def encode_tagged(
    examples: list[TaggedExample], tok: Tokenizer, max_len: int, label_ids: dict[str, int]
) -> TaggedFeatures:
    """Pre-split words -> sub-tokens; one target per word, on its first sub-token."""
    encodings = truncating(tok, max_len).encode_batch([list(ex.words) for ex in examples], is_pretokenized=True)
    labelled = bool(examples) and examples[0].tags is not None
    features = TaggedFeatures([], [], [] if labelled else None)
    for ex, enc in zip(examples, encodings):
        starts = first_subtokens(enc.word_ids, len(ex.words))
        features.input_ids.append(enc.ids)
        features.token_type_ids.append(enc.type_ids)
        features.word_starts.append(starts)
        if labelled:
            target = [IGNORE] * len(enc.ids)
            for word, pos in enumerate(starts):
                if pos >= 0:
                    target[pos] = label_ids.get(ex.tags[word], IGNORE)  # an unseen tag: scored from ex.tags
            features.targets.append(target)
    return features


def first_subtokens(word_ids: list[int | None], num_words: int) -> list[int]:
    """Position of each word's first token; -1 for a word without tokens."""
    starts = [-1] * num_words
    for pos, word in enumerate(word_ids):
        if word is not None and starts[word] < 0:
            starts[word] = pos
    return starts


# ---------------------------------------------------------------- extractive QA


def encode_qa(
    examples: list[QaExample],
    tok: Tokenizer,
    special: SpecialIds,
    max_len: int,
    max_query: int,
    doc_stride: int,
    with_targets: bool,
) -> QaFeatures:
    """Question + overlapping context windows; targets are (start, end) token positions."""
    raw = plain(tok)
    questions = raw.encode_batch([ex.question for ex in examples], add_special_tokens=False)
    contexts = raw.encode_batch([ex.context for ex in examples], add_special_tokens=False)
    features = QaFeatures([], [], [] if with_targets else None)
    for index, (ex, question, context) in enumerate(zip(examples, questions, contexts)):
        q_ids = question.ids[:max_query]
        window = max_len - len(q_ids) - 3
        if window < 1:
            raise ElectraError(
                f"--max-seq-length {max_len} leaves no room for the context after a "
                f"{len(q_ids)}-token question; raise it or lower --max-query-length"
            )
        answer = answer_tokens(ex, context.offsets) if with_targets else None
        for start in window_starts(len(context.ids), window, doc_stride):
            end = min(start + window, len(context.ids))
            head = [special.cls, *q_ids, special.sep]
            features.input_ids.append(head + context.ids[start:end] + [special.sep])
            features.token_type_ids.append([0] * len(head) + [1] * (end - start + 1))
            features.offsets.append([None] * len(head) + list(context.offsets[start:end]) + [None])
            features.example_index.append(index)
            if with_targets:
                features.targets.append(window_target(answer, start, end, len(head)))
    return features


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Starts of the context windows: every ``stride`` tokens until one reaches the end."""
    starts = [0]
    while starts[-1] + window < length:
        starts.append(starts[-1] + min(stride, window))
    return starts


def answer_tokens(ex: QaExample, offsets: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Context token span of the first gold answer, or None (unanswerable / not tokenized)."""
    if ex.is_impossible or not ex.answers:
        return None
    first, last = ex.answers[0].start, ex.answers[0].start + len(ex.answers[0].text)
    covering = [i for i, (s, e) in enumerate(offsets) if s < last and e > first]
    return (covering[0], covering[-1]) if covering else None


def window_target(answer: tuple[int, int] | None, start: int, end: int, shift: int) -> tuple[int, int]:
    """(start, end) input positions of the answer in this window; (0, 0) = [CLS] otherwise."""
    if answer is None or answer[0] < start or answer[1] >= end:
        return (0, 0)
    return (answer[0] - start + shift, answer[1] - start + shift)


# ---------------------------------------------------------------- batches


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    token_type_ids: torch.Tensor  # (B, T)
    targets: torch.Tensor | None  # (B,), (B, T) or (B, 2)

    def to(self, device: torch.device) -> Batch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.input_ids), move(self.attention_mask), move(self.token_type_ids), move(self.targets))


def collate(features: Features, indices: list[int], pad_id: int) -> Batch:
    """Pad the chosen inputs to their longest; token targets are padded with IGNORE."""
    longest = max(len(features.input_ids[i]) for i in indices)
    ids = torch.full((len(indices), longest), pad_id, dtype=torch.long)
    types = torch.zeros((len(indices), longest), dtype=torch.long)
    mask = torch.zeros((len(indices), longest), dtype=torch.long)
    for row, i in enumerate(indices):
        n = len(features.input_ids[i])
        ids[row, :n] = torch.tensor(features.input_ids[i])
        types[row, :n] = torch.tensor(features.token_type_ids[i])
        mask[row, :n] = 1
    return Batch(ids, mask, types, collate_targets(features.targets, indices, longest))


def collate_targets(targets: list | None, indices: list[int], longest: int) -> torch.Tensor | None:
    if targets is None:
        return None
    first = targets[indices[0]]
    if isinstance(first, float):
        return torch.tensor([targets[i] for i in indices], dtype=torch.float32)
    if isinstance(first, (int, tuple)):  # class ids (B,) or QA (start, end) pairs (B, 2)
        return torch.tensor([targets[i] for i in indices], dtype=torch.long)
    out = torch.full((len(indices), longest), IGNORE, dtype=torch.long)
    for row, i in enumerate(indices):
        out[row, : len(targets[i])] = torch.tensor(targets[i])
    return out
