"""WordPiece tokenizer: train, load, save, and the special-token ids in one frozen dataclass.

The tokenizer is an uncased BERT-style WordPiece built with HF ``tokenizers``:
``BertNormalizer`` (clean text, split CJK characters, lowercase, strip accents),
``BertPreTokenizer`` (whitespace and punctuation), a WordPiece model with the ``##``
continuation prefix and a ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` post-processor.

Choices:

- The five special tokens come first: ``[PAD]``=0, ``[UNK]``=1, ``[CLS]``=2, ``[SEP]``=3,
  ``[MASK]``=4 for a trained vocabulary. A loaded ``vocab.txt`` keeps its own ids (Google's
  BERT vocabularies put ``[UNK]`` at 100), which is why every consumer asks
  :func:`special_ids` instead of hard-coding numbers.
- Training keeps at most 1000 distinct characters in the initial alphabet and needs a
  sub-word to occur twice (the ``BertWordPieceTokenizer`` defaults), so a small corpus gives
  a vocabulary smaller than asked for; the real size is ``tok.get_vocab_size()``.
- Training is reproducible: the same text gives the same vocabulary, byte for byte, whatever
  the thread count (see :func:`train_wordpiece` for what it takes).
- :func:`save_tokenizer` writes ``tokenizer.json`` (our source of truth) next to a
  ``vocab.txt`` and the two small JSON files ``transformers.AutoTokenizer`` needs to
  rebuild the same tokenizer (``BertTokenizer``, ``do_lower_case``, 512 positions).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordPiece

from electra.errors import ElectraError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
"""In the order a trained vocabulary gives them ids 0..4."""

MODEL_MAX_LENGTH = 512
"""Written to ``tokenizer_config.json``; the position table size of every preset."""

LIMIT_ALPHABET = 1000
"""Most distinct characters a trained vocabulary keeps (the most frequent; ties by code point)."""
COUNT_CHUNK_CHARS = 1 << 22
"""Characters counted per ``bincount`` call (each call also adds up a table of all code points)."""


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the BERT special tokens in one vocabulary."""

    pad: int
    unk: int
    cls: int
    sep: int
    mask: int


def special_ids(tok: Tokenizer) -> SpecialIds:
    """Look the five special tokens up; a vocabulary lacking one is an error."""
    ids = {}
    for field, token in zip(("pad", "unk", "cls", "sep", "mask"), SPECIAL_TOKENS):
        value = tok.token_to_id(token)
        if value is None:
            raise ElectraError(
                f"tokenizer has no {token} token; a BERT-style vocabulary needs all of {', '.join(SPECIAL_TOKENS)}"
            )
        ids[field] = value
    return SpecialIds(**ids)


def train_wordpiece(
    read: Callable[[], Iterable[str | list[str]]], vocab_size: int, limit_alphabet: int = LIMIT_ALPHABET
) -> Tokenizer:
    """Train an uncased WordPiece vocabulary of at most ``vocab_size`` ids.

    ``read()`` returns a fresh iterable of texts (strings, or lists of strings as batches); it is
    called twice, and nothing is held in memory as a whole: one pass counts the characters, the
    other trains.

    Why two passes: HF's trainer is not reproducible on its own. It walks its word counts (a Rust
    ``HashMap``, seeded at random per process) to give the ``##x`` continuation tokens their ids,
    and breaks ties between equally frequent merges by those ids; it also cuts the alphabet
    to ``limit_alphabet`` with an unstable sort. Four runs over the same file gave four
    vocabularies (of two sizes). So the characters are counted here first (numpy ``bincount``,
    ~0.5 s per 50 MB of text), the alphabet is chosen here (most frequent, ties by code point),
    and it is handed to the trainer with every ``##x`` in code-point order as *fixed* tokens, so
    every id the merges compare is fixed before the trainer starts. The cost: a ``##x`` for every
    character that can continue a word, even one the corpus only has word-initially (a few ids).
    """
    pipeline = _bert_pipeline(Tokenizer(WordPiece(unk_token=UNK)))
    counts = _character_counts(read(), pipeline.normalizer)
    alphabet, continuing = _alphabet(counts, pipeline, limit_alphabet)
    fixed = [*SPECIAL_TOKENS, *alphabet, *("##" + c for c in continuing)]
    tok = _bert_pipeline(Tokenizer(WordPiece(unk_token=UNK, continuing_subword_prefix="##")))
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        limit_alphabet=len(alphabet),
        initial_alphabet=alphabet,
        special_tokens=fixed,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(read(), trainer=trainer)
    # the fixed tokens came back as added (special) tokens: keep only the vocabulary
    return _from_vocab(tok.get_vocab(with_added_tokens=False))


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a ``tokenizer.json``, a BERT ``vocab.txt`` (read as uncased), or a folder holding
    either (``tokenizer.json`` is preferred when both are there)."""
    path = Path(path)
    if path.is_dir():
        for name in ("tokenizer.json", "vocab.txt"):
            if (path / name).is_file():
                return load_tokenizer(path / name)
        raise ElectraError(f"{path}: folder holds neither tokenizer.json nor vocab.txt")
    if not path.is_file():
        raise ElectraError(f"{path}: tokenizer file not found")
    if path.suffix == ".json":
        return _load_json(path)
    return _load_vocab_txt(path)


def save_tokenizer(tok: Tokenizer, folder: Path) -> None:
    """Write ``tokenizer.json``, ``vocab.txt``, ``tokenizer_config.json`` and
    ``special_tokens_map.json`` into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    special_ids(tok)  # a vocabulary without the BERT specials cannot be saved for BERT
    tok.save(str(folder / "tokenizer.json"))
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in _tokens_in_id_order(tok)), encoding="utf-8")
    special_map = {"pad_token": PAD, "unk_token": UNK, "cls_token": CLS, "sep_token": SEP, "mask_token": MASK}
    config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "strip_accents": None,  # BERT: follows do_lower_case
        "tokenize_chinese_chars": True,
        "model_max_length": MODEL_MAX_LENGTH,
        "clean_up_tokenization_spaces": False,
        **special_map,
    }
    _write_json(folder / "tokenizer_config.json", config)
    _write_json(folder / "special_tokens_map.json", special_map)


# ---------------------------------------------------------------------------------------------
# Building blocks


def _bert_pipeline(tok: Tokenizer) -> Tokenizer:
    """Attach the uncased BERT normalizer, pre-tokenizer and decoder to a WordPiece model."""
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def _with_post_processor(tok: Tokenizer) -> Tokenizer:
    """Add ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` and register the specials as such."""
    ids = special_ids(tok)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS}:0 $A:0 {SEP}:0",
        pair=f"{CLS}:0 $A:0 {SEP}:0 $B:1 {SEP}:1",
        special_tokens=[(CLS, ids.cls), (SEP, ids.sep)],
    )
    tok.add_special_tokens(list(SPECIAL_TOKENS))  # already in the vocabulary: ids unchanged
    return tok


def _load_json(path: Path) -> Tokenizer:
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception for bad JSON / unknown parts
        raise ElectraError(f"{path}: not a readable tokenizers JSON file ({exc})") from exc
    special_ids(tok)
    return tok


def _load_vocab_txt(path: Path) -> Tokenizer:
    """Build the uncased ``BertWordPieceTokenizer`` equivalent from one token per line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ElectraError(f"{path}: cannot read vocabulary ({exc})") from exc
    vocab: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        token = line.rstrip("\r\n")
        if not token.strip():
            raise ElectraError(f"{path}:{number}: empty token in vocab.txt")
        if token in vocab:
            raise ElectraError(f"{path}:{number}: token {token!r} already on line {vocab[token] + 1}")
        vocab[token] = len(vocab)
    if not vocab:
        raise ElectraError(f"{path}: vocab.txt is empty")
    if UNK not in vocab:
        raise ElectraError(f"{path}: vocab.txt has no {UNK} token")
    try:
        return _from_vocab(vocab)
    except ElectraError as exc:
        raise ElectraError(f"{path}: {exc}") from exc


def _from_vocab(vocab: dict[str, int]) -> Tokenizer:
    """The uncased BERT tokenizer over a ``token -> id`` vocabulary."""
    model = WordPiece(vocab, unk_token=UNK, continuing_subword_prefix="##", max_input_chars_per_word=100)
    return _with_post_processor(_bert_pipeline(Tokenizer(model)))


def _character_counts(texts: Iterable[str | list[str]], normalizer: normalizers.Normalizer) -> dict[str, int]:
    """How often each character occurs in the *normalized* texts.

    Raw characters are counted (numpy, over UTF-32 code points), then each distinct one is
    normalized alone: the BERT normalizer works character by character (cleaning, CJK spacing,
    lowercasing, NFD with accents dropped), so the multiset is the same as normalizing the text.
    """
    raw = np.zeros(0x110000, dtype=np.int64)

    def add(pieces: list[str]) -> None:
        points = np.frombuffer("\n".join(pieces).encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
        raw[:] += np.bincount(points, minlength=len(raw))

    pending: list[str] = []
    size = 0
    for text in texts:
        pieces = text if isinstance(text, list) else [text]
        pending.extend(pieces)
        size += sum(map(len, pieces))
        if size >= COUNT_CHUNK_CHARS:
            add(pending)
            pending, size = [], 0
    add(pending)
    counts: dict[str, int] = {}
    for point in np.flatnonzero(raw).tolist():
        for char in normalizer.normalize_str(chr(point)):
            counts[char] = counts.get(char, 0) + int(raw[point])
    return counts


def _alphabet(counts: dict[str, int], pipeline: Tokenizer, limit: int) -> tuple[list[str], list[str]]:
    """The ``limit`` most frequent word characters (ties by code point), in code-point order, and
    those of them that can continue a word (no whitespace, punctuation or CJK: they stand alone)."""
    kept, continuing = [], []
    for char in counts:
        normalized = pipeline.normalizer.normalize_str(f"a{char}a")
        words = [word for word, _ in pipeline.pre_tokenizer.pre_tokenize_str(normalized)]
        if "".join(words) == "aa":
            continue  # whitespace: never part of a word
        kept.append(char)
        if len(words) == 1:
            continuing.append(char)
    kept = sorted(sorted(kept, key=lambda c: (-counts[c], ord(c)))[:limit], key=ord)
    chosen = set(kept)
    return kept, sorted((c for c in continuing if c in chosen), key=ord)


def _tokens_in_id_order(tok: Tokenizer) -> list[str]:
    vocab = tok.get_vocab(with_added_tokens=True)
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    for expected, (token, index) in enumerate(by_id):
        if index != expected:
            raise ElectraError(
                f"tokenizer ids are not contiguous (token {token!r} has id {index}, "
                f"expected {expected}); cannot write vocab.txt"
            )
    return [token for token, _ in by_id]


def _write_json(path: Path, body: dict) -> None:
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
