"""``electra prepare``: text files in, a folder of token shards plus ``meta.json`` out.

Pipeline (each step streams, so peak memory does not grow with the corpus):

0. The output folder is claimed (:func:`claim_out`): ``prepare.json`` records what the folder is
   built from (the input files by path, size and modification time; the settings; a given
   tokenizer by content). A non-empty folder is used only when its record matches (a rerun
   resumes), or when it holds other prepared data and ``overwrite`` is given; anything else is
   refused before anything in it is touched.
1. Tokenizer: train a WordPiece vocabulary over the text in two streaming passes
   (``cfg.tokenizer`` unset; :func:`electra.tokenizer.train_wordpiece`, reproducible) or load
   the given one; save it into ``out``. A rerun over the same files reuses the tokenizer it finds
   there (``tokenizer-source.json`` says what it was made from).
2. Each input file is one *part*, built independently (so parts run in parallel over
   ``workers`` processes, and split over machines with ``num_shards`` / ``shard_index``):
   its documents (:mod:`electra.data.text`) are tokenized in batches of about
   :data:`ENCODE_BATCH_LINES` lines, without ``[CLS]``/``[SEP]`` and with special-token strings
   in the text (a literal ``[MASK]``) split like any other text, as BERT's original tokenizer did;
   :class:`~electra.data.packing.ExampleBuilder` packs them into examples, seeded from
   ``(cfg.seed, part index)``; examples go into ``part-IIIII-JJJ.npy`` arrays of at most
   ``cfg.examples_per_shard`` rows of ``max_seq_len``, padded with ``[PAD]``, ``uint16`` when
   the vocabulary fits, else ``int32``, each written under a temporary name and renamed; its
   sha256 goes into the marker and ``meta.json``.
3. A part is finished when its marker ``part-IIIII.json`` (counts, sha256, shard list) is
   written, last and atomically. A rerun skips every part whose marker matches the file (size,
   modification time) and the settings: an interrupted run resumes, a repeated one does no work.
4. ``meta.json`` is written, atomically, once every part has its marker; a folder without it is
   not a finished dataset. With ``num_shards`` > 1 the machine that finishes last writes it (on a
   shared folder), or a final run without ``--num-shards`` does.

A Hugging Face dataset (``--hf-dataset``, :mod:`electra.data.hf_dataset`) is one more input and
one part, after the files: one worker builds it, and it is rebuilt whole when interrupted. A local
``save_to_disk`` folder is recorded by path, size and modification time, like a file; a hub dataset
by name, configuration and split only (``meta.json`` gives the sha256 of the text read from it).

Same inputs and settings give byte-identical files (tokenizer, shards, markers, ``meta.json``),
whatever ``workers`` and the thread count: nothing written holds a time, the output path, or
anything ordered by a hash map.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from electra.config import PrepareConfig
from electra.data.hf_dataset import HFDataset, open_rows
from electra.data.packing import Document, ExampleBuilder
from electra.data.text import TextStats, input_size, iter_documents, iter_lines, resolve_inputs, total_bytes
from electra.data.vectors import VECTORS_FILE, write_token_vectors
from electra.errors import ElectraError
from electra.files import make_folder, write_json
from electra.tokenizer import load_tokenizer, save_tokenizer, special_ids, train_wordpiece

META_SCHEMA_VERSION = 1
META_FILE = "meta.json"
RECORD_FILE = "prepare.json"
"""What the folder is built from; written first (see :func:`claim_out`)."""
TOKENIZER_SOURCE = "tokenizer-source.json"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
_OWN_NAME = re.compile(
    r"(part-\d{5,}(-\d{3,})?\.(json|npy)|shard-\d{5,}\.npy|"
    + "|".join(re.escape(n) for n in (META_FILE, RECORD_FILE, TOKENIZER_SOURCE, VECTORS_FILE, *TOKENIZER_FILES))
    + r")(\.tmp)?"
)
"""Names of the files ``prepare`` writes (a folder holding only these is a data folder)."""
PART_MARKER = "part-{:05d}.json"
PART_SHARD = "part-{:05d}-{:03d}.npy"
ENCODE_BATCH_LINES = 4096
"""Lines per ``encode_batch`` call: large enough to keep all Rust threads busy."""
COUNT_KEYS = (
    "documents",
    "lines",
    "examples",
    "tokens",
    "truncated_tokens",
    "skipped_lines",
    "replaced_lines",
    "split_lines",
)


@dataclasses.dataclass
class EncodeStats:
    """Counts of the tokenization step."""

    skipped_lines: int = 0
    """Lines with no token left after normalisation (e.g. only control characters)."""


@dataclasses.dataclass(frozen=True)
class Part:
    """One input file (or Hugging Face dataset) and where its output goes."""

    index: int
    file: Path | HFDataset
    out: Path

    @property
    def marker(self) -> Path:
        return self.out / PART_MARKER.format(self.index)

    def identity(self) -> dict:
        """What a finished part must still match to be reused."""
        if isinstance(self.file, HFDataset):
            return self.file.identity()
        stat = self.file.stat()
        return {"file": str(self.file), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def prepare(
    inputs: list[str | Path | HFDataset],
    out: Path,
    cfg: PrepareConfig,
    workers: int | None = None,
    progress: bool = True,
    num_shards: int = 1,
    shard_index: int = 0,
    tokenizer_only: bool = False,
    overwrite: bool = False,
    text_field: str = "text",
    token_vectors: int = 0,
) -> dict | None:
    """Build the pretraining shards of ``inputs`` into ``out``; returns the ``meta.json`` body,
    or None while parts built elsewhere (``num_shards`` > 1) are still missing.

    ``workers``: processes building parts in parallel (each tokenizes on one thread); ``None``
    builds them one after another with the tokenizer's threads on every core.
    ``num_shards`` / ``shard_index``: build only the parts ``i`` with ``i % num_shards ==
    shard_index`` (one machine's share); the tokenizer must then exist already (``--tokenizer``,
    or an earlier ``tokenizer_only`` run into ``out``).
    ``overwrite``: replace other prepared data in ``out`` instead of refusing (:func:`claim_out`).
    ``text_field``: the field (JSONL) or column (Parquet, Hugging Face dataset) holding the text.
    ``token_vectors``: once ``meta.json`` is written, also compute ``N``-wide token vectors from the
    shards (:mod:`electra.data.vectors`; 0: none). They shape no shard and are not part of the
    record: the same command run again with this option adds them to a finished folder.
    An :class:`HFDataset` among ``inputs`` is opened (``datasets`` imported, hub reached, split and
    column checked) before anything is written.
    """
    if token_vectors < 0:
        raise ElectraError(f"--token-vectors must be >= 0 (0: none), got {token_vectors}")
    if workers is not None and workers < 1:
        raise ElectraError(f"workers must be >= 1, got {workers}")
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ElectraError(f"shard_index must be in [0, num_shards), got {shard_index} of {num_shards}")
    if overwrite and num_shards > 1:
        raise ElectraError(
            "--overwrite cannot be combined with --num-shards: each machine would delete "
            "what the others built; clear the folder once, before the shards' runs"
        )
    _configure_threads(workers)
    out = Path(out)
    files = resolve_inputs(inputs, exclude=out)
    for source in files:
        if isinstance(source, HFDataset):
            open_rows(source, text_field)  # fails here, before any work, on what it can
    given = load_tokenizer(cfg.tokenizer) if cfg.tokenizer is not None else None
    record = _record(files, cfg, text_field, given)
    source = _tokenizer_source(files, cfg, out, text_field)
    if given is None and num_shards > 1 and not _reusable_tokenizer(out, source):
        raise ElectraError(
            f"{out}: with --num-shards every machine needs the same tokenizer: pass --tokenizer, "
            f"or first run 'electra prepare ... --out {out} --tokenizer-only' over all inputs"
        )
    claim_out(out, record, overwrite)
    make_folder(out)
    if _read_json(out / RECORD_FILE) != record:
        write_json(out / RECORD_FILE, record)

    tok = _get_tokenizer(files, cfg, out, given, source, progress, text_field)
    if tokenizer_only:
        return None
    (out / META_FILE).unlink(missing_ok=True)
    key = _settings_key(cfg, out, text_field)
    parts = [Part(i, f, out) for i, f in enumerate(files)]
    _remove_stale(out, len(files))
    mine = [p for p in parts if p.index % num_shards == shard_index]
    todo = [p for p in mine if _finished(p, key) is None]
    if len(todo) < len(mine):
        print(f"prepare: {len(mine) - len(todo)} of {len(mine)} parts already built, skipped", file=sys.stderr)
    _build_parts(todo, cfg, key, _dtype(tok), workers, progress, text_field)

    markers = [_finished(p, key) for p in parts]
    missing = [p for p, m in zip(parts, markers) if m is None]
    if missing:
        print(
            f"prepare: {len(parts) - len(missing)} of {len(parts)} parts built; meta.json is written once "
            f"the other shards' runs are done",
            file=sys.stderr,
        )
        return None
    meta = _meta(markers, tok, cfg, inputs, text_field)
    write_json(out / META_FILE, meta)
    if token_vectors and write_token_vectors(out, meta, token_vectors):
        print(f"prepare: {token_vectors}-wide token vectors written to {out / VECTORS_FILE}", file=sys.stderr)
    return meta


# ---------------------------------------------------------------------------------------------
# The output folder


def claim_out(out: Path, record: dict, overwrite: bool) -> None:
    """Make sure building ``record`` into ``out`` clobbers nothing; raise (having touched nothing)
    when it would.

    - A missing or empty folder (or one holding only a record: a run that did no work yet) is free.
    - A folder whose ``prepare.json`` equals ``record`` is the same data: the run resumes (parts
      and tokenizer already built are reused).
    - A data folder (only files ``prepare`` writes) holding other data is refused, naming what
      differs, unless ``overwrite``: then its record and ``meta.json`` go, and its parts and
      tokenizer are reused only where their own markers still match the new inputs and settings.
    - Any other folder (a pretraining or fine-tuning run, someone's files) is never written into,
      with or without ``overwrite`` (as ``finetune`` and ``export`` treat a foreign ``--out``).
    """
    if out.exists() and not out.is_dir():
        raise ElectraError(f"{out}: --out is a file, not a folder")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if all(e.name in (RECORD_FILE, RECORD_FILE + ".tmp") for e in entries):
        return
    held = _read_json(out / RECORD_FILE)
    if held == record:
        return
    foreign = [e.name + ("/" if e.is_dir() else "") for e in entries if not _OWN_NAME.fullmatch(e.name)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ElectraError(
            f"{out}: not a prepared data folder (it holds {shown}); prepare does not write into "
            f"it, with or without --overwrite: choose another --out (nothing was changed)"
        )
    if held is None:
        problem = "holds prepared data without its prepare.json record (an older version's, or unfinished)"
    else:
        problem = f"holds other data ({_differences(held, record)})"
    if not overwrite:
        raise ElectraError(
            f"{out}: {problem}; pass --overwrite to replace it, or choose another --out (nothing was changed)"
        )
    for name in (RECORD_FILE, META_FILE):
        (out / name).unlink(missing_ok=True)
    for temporary in out.glob("*.tmp"):
        temporary.unlink()


def _record(files: list[Path | HFDataset], cfg: PrepareConfig, text_field: str, given: Tokenizer | None) -> dict:
    """What ``out`` is built from, as :func:`claim_out` compares it."""
    settings = dataclasses.asdict(cfg)
    del settings["tokenizer"]  # by content below, not by path
    if given is not None:
        del settings["vocab_size"]  # unused with a given tokenizer
    return {
        "inputs": [
            f.identity()
            if isinstance(f, HFDataset)
            else {"file": str(f.resolve()), "size": f.stat().st_size, "mtime_ns": f.stat().st_mtime_ns}
            for f in files
        ],
        "settings": {**settings, "text_field": text_field},
        "tokenizer": None if given is None else hashlib.sha256(given.to_str().encode("utf-8")).hexdigest(),
    }


def _differences(held: dict, record: dict) -> str:
    """What differs between two records, in a few words."""
    said = []
    theirs = {_input_name(i): i for i in held.get("inputs") or []}
    ours = {_input_name(i): i for i in record["inputs"]}
    for what, names in (
        ("added", [f for f in ours if f not in theirs]),
        ("no longer given", [f for f in theirs if f not in ours]),
        ("changed since", [f for f in ours if f in theirs and theirs[f] != ours[f]]),
    ):
        if names:
            more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
            said.append(f"input {_input_label(names[0])} {what}{more}")
    if not said and list(theirs) != list(ours):
        said.append("inputs in another order")
    old, new = held.get("settings") or {}, record["settings"]
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            said.append(f"{k} {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}")
    if held.get("tokenizer") != record["tokenizer"]:

        def kind(digest: str | None) -> str:
            return "trained" if digest is None else f"given ({digest[:12]})"

        said.append(f"tokenizer {kind(held.get('tokenizer'))} -> {kind(record['tokenizer'])}")
    return ", ".join(said) or "another record"


def _input_name(entry: dict) -> str:
    """What tells an input of a record from the others: a file's path, a dataset's name, config
    and split."""
    if "hf_dataset" in entry:
        given = [f"{k} {entry[k]}" for k in ("config", "split") if entry.get(k) is not None]
        return f"--hf-dataset {entry['hf_dataset']}" + (f" ({', '.join(given)})" if given else "")
    return str(entry.get("file"))


def _input_label(name: str) -> str:
    """:func:`_input_name` in a few words (a file by its base name)."""
    return name if name.startswith("--hf-dataset ") else Path(name).name


def _read_json(path: Path) -> dict | None:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _meta(markers: list[dict], tok: Tokenizer, cfg: PrepareConfig, inputs: list, text_field: str) -> dict:
    read = [m for m in markers if m["skipped"] is None]
    examples = sum(m["examples"] for m in markers)
    if examples == 0:
        raise ElectraError(
            f"no example could be built from {', '.join(map(str, inputs))}: the inputs hold no usable text"
        )
    counts = {key: sum(m[key] for m in markers) for key in COUNT_KEYS}
    counts.update(files=len(read), skipped_files=[s for m in markers for s in m["skipped_files"]])
    return {
        "schema_version": META_SCHEMA_VERSION,
        "tokenizer": "tokenizer.json",
        "vocab_size": tok.get_vocab_size(),
        "special_ids": dataclasses.asdict(special_ids(tok)),
        "max_seq_len": cfg.max_seq_len,
        "dtype": np.dtype(_dtype(tok)).name,
        "shards": [shard for m in markers for shard in m["shards"]],
        "counts": counts,
        "inputs": [_input_entry(m) for m in read],
        "config": {**dataclasses.asdict(cfg), "text_field": text_field},
    }


def _input_entry(marker: dict) -> dict:
    """One input in ``meta.json``: a file by name, a dataset by name, config, split (and a local
    folder's path); both with the sha256 of what was read and its line count."""
    if "hf_dataset" in marker:
        named = {k: marker[k] for k in ("hf_dataset", "config", "split", "path") if k in marker}
    else:
        named = {"file": marker["file"]}
    return {**named, "sha256": marker["sha256"], "lines": marker["lines"]}


def _dtype(tok: Tokenizer) -> type:
    return np.uint16 if tok.get_vocab_size() <= np.iinfo(np.uint16).max + 1 else np.int32


def _settings_key(cfg: PrepareConfig, out: Path, text_field: str) -> dict:
    """Everything besides the file that shapes a part's shards (the tokenizer by its content)."""
    body = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("tokenizer", "vocab_size")}
    body["text_field"] = text_field
    body["tokenizer_sha256"] = hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest()
    return body


def _finished(part: Part, key: dict) -> dict | None:
    """The part's marker when it is complete and still matches its file and the settings."""
    try:
        marker = json.loads(part.marker.read_text(encoding="utf-8"))
        identity = part.identity()
        if marker["key"] != key or {k: marker.get(k) for k in identity} != identity:
            return None
        if all((part.out / s["file"]).is_file() for s in marker["shards"]):
            return marker
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _build_parts(
    parts: list[Part], cfg: PrepareConfig, key: dict, dtype: type, workers: int | None, progress: bool, text_field: str
) -> None:
    if not parts:
        return
    jobs = [(part, cfg, key, dtype, text_field) for part in parts]
    with tqdm(
        total=total_bytes(p.file for p in parts),
        desc="tokenizing",
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        disable=not progress,
        leave=False,
    ) as bar:
        if workers is None or workers == 1 or len(parts) == 1:
            for job in jobs:
                build_part(*job, on_bytes=bar.update)
            return
        # spawn: the parent has used the tokenizer's threads, which must not be forked
        with multiprocessing.get_context("spawn").Pool(min(workers, len(parts)), initializer=_one_thread) as pool:
            for done in pool.imap_unordered(_build_part_job, jobs):
                bar.update(done)


def _one_thread() -> None:
    os.environ["RAYON_NUM_THREADS"] = os.environ["RAYON_RS_NUM_CPUS"] = "1"


def _build_part_job(job: tuple) -> int:
    part = job[0]
    build_part(*job)
    return input_size(part.file)


def build_part(part: Part, cfg: PrepareConfig, key: dict, dtype: type, text_field: str = "text", on_bytes=None) -> dict:
    """Tokenize and pack one file (or dataset) into its shards, then write its marker (last)."""
    for stale in part.out.glob(f"part-{part.index:05d}-*.npy"):
        stale.unlink()  # a crashed earlier attempt
    tok = load_tokenizer(part.out)
    tok.encode_special_tokens = True  # not saved: only shapes how raw text is split here
    special = special_ids(tok)
    text_stats, encode_stats = TextStats(), EncodeStats()
    builder = ExampleBuilder(
        cfg.max_seq_len,
        cfg.short_seq_prob,
        cfg.single_segment_prob,
        np.random.default_rng([cfg.seed, part.index]),
        special,
    )
    writer = ShardWriter(
        part.out,
        cfg.max_seq_len,
        cfg.examples_per_shard,
        dtype,
        special.pad,
        name=lambda j: PART_SHARD.format(part.index, j),
    )
    documents = iter_documents([part.file], text_stats, warn=True, on_bytes=on_bytes, text_field=text_field)
    for example in builder.examples(_tokenized(documents, tok, encode_stats)):
        writer.add(example)
    writer.close()
    entry = text_stats.files[0] if text_stats.files else None
    marker = {
        **part.identity(),
        "key": key,
        "shards": writer.shards,
        "sha256": entry.sha256 if entry else None,
        "skipped": text_stats.skipped_files[0]["reason"] if entry is None and text_stats.skipped_files else None,
        "skipped_files": text_stats.skipped_files,
        "documents": text_stats.documents,
        "lines": text_stats.lines,
        "examples": writer.examples,
        "tokens": writer.tokens,
        "truncated_tokens": builder.truncated_tokens,
        "skipped_lines": encode_stats.skipped_lines,
        "replaced_lines": text_stats.replaced_lines,
        "split_lines": text_stats.split_lines,
    }
    if entry is None and not text_stats.skipped_files:
        marker["skipped"] = "empty (no non-blank line)"
    write_json(part.marker, marker)
    return marker


def _remove_stale(out: Path, parts: int) -> None:
    """Shards of the single-stream layout and parts beyond the current input list."""
    for path in out.glob("shard-*.npy"):
        path.unlink()
    for path in out.glob("part-*"):
        try:
            index = int(path.name.split("-")[1].split(".")[0])
        except (IndexError, ValueError):
            continue
        if index >= parts:
            path.unlink()


class ShardWriter:
    """Buffers at most ``rows_per_shard`` padded rows, then writes them as one ``.npy`` file."""

    def __init__(
        self,
        folder: Path,
        max_seq_len: int,
        rows_per_shard: int,
        dtype: type,
        pad_id: int,
        name=lambda j: f"shard-{j:05d}.npy",
    ) -> None:
        self.folder = folder
        self.name = name
        self.pad_id = pad_id
        self.buffer = np.full((rows_per_shard, max_seq_len), pad_id, dtype=dtype)
        self.filled = 0
        self.shards: list[dict] = []
        """``{"file": name, "examples": rows, "sha256": digest}`` per written shard."""
        self.examples = 0
        self.tokens = 0

    def add(self, example: np.ndarray) -> None:
        self.buffer[self.filled, : len(example)] = example
        self.filled += 1
        self.examples += 1
        self.tokens += len(example)
        if self.filled == len(self.buffer):
            self._flush()

    def close(self) -> None:
        if self.filled:
            self._flush()

    def _flush(self) -> None:
        name = self.name(len(self.shards))
        temporary = self.folder / (name + ".tmp")
        body = io.BytesIO()
        np.save(body, self.buffer[: self.filled])
        with temporary.open("wb") as handle:
            handle.write(body.getbuffer())
        os.replace(temporary, self.folder / name)
        digest = hashlib.sha256(body.getbuffer()).hexdigest()
        self.shards.append({"file": name, "examples": self.filled, "sha256": digest})
        self.buffer.fill(self.pad_id)
        self.filled = 0


def _tokenizer_source(files: list[Path | HFDataset], cfg: PrepareConfig, out: Path, text_field: str) -> dict:
    """What a tokenizer in ``out`` must have been made from to be reused."""
    trained = cfg.tokenizer is None
    return {
        "tokenizer": cfg.tokenizer,
        "vocab_size": cfg.vocab_size if trained else None,
        "files": [Part(i, f, out).identity() for i, f in enumerate(files)] if trained else None,
        "text_field": text_field if trained else None,
    }


def _reusable_tokenizer(out: Path, source: dict) -> bool:
    return (out / "tokenizer.json").is_file() and _read_json(out / TOKENIZER_SOURCE) == source


def _get_tokenizer(
    files: list[Path | HFDataset],
    cfg: PrepareConfig,
    out: Path,
    given: Tokenizer | None,
    source: dict,
    progress: bool,
    text_field: str,
) -> Tokenizer:
    """The given tokenizer, the one an earlier run over the same files left in ``out``, or a new one."""
    if given is None and _reusable_tokenizer(out, source):
        return load_tokenizer(out)
    if given is not None:
        tok = given
    else:
        # two streaming passes (characters, then training): the bar counts both
        with _byte_bar(files * 2, "training tokenizer", progress) as bar:

            def read() -> Iterator[list[str]]:
                lines = iter_lines(files, TextStats(), warn=False, on_bytes=bar.update, text_field=text_field)
                return _batched(lines, 1024)

            tok = train_wordpiece(read, cfg.vocab_size)
    if not (out / "tokenizer.json").is_file() or given is None or Path(cfg.tokenizer).resolve() != out.resolve():
        save_tokenizer(tok, out)
    write_json(out / TOKENIZER_SOURCE, source)
    return tok


def _tokenized(documents: Iterable[list[str]], tok: Tokenizer, stats: EncodeStats) -> Iterator[Document]:
    """Token ids per line per document; documents are encoded in batches of whole documents."""
    batch: list[list[str]] = []
    size = 0
    for document in documents:
        batch.append(document)
        size += len(document)
        if size >= ENCODE_BATCH_LINES:
            yield from _encode_documents(batch, tok, stats)
            batch, size = [], 0
    if batch:
        yield from _encode_documents(batch, tok, stats)


def _encode_documents(documents: list[list[str]], tok: Tokenizer, stats: EncodeStats) -> Iterator[Document]:
    # encode_batch_fast (tokenizers >= 0.20) skips character offsets: ~30% faster here.
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    encodings = encode([line for document in documents for line in document], add_special_tokens=False)
    start = 0
    for document in documents:
        lines = [encoding.ids for encoding in encodings[start : start + len(document)]]
        start += len(document)
        kept = [ids for ids in lines if ids]
        stats.skipped_lines += len(lines) - len(kept)
        if kept:
            yield kept


def _batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _configure_threads(workers: int | None) -> None:
    """Tokenizer threads on every core; parallelism on (workers are spawned, never forked)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def _byte_bar(files: list[Path | HFDataset], description: str, enabled: bool) -> tqdm:
    return tqdm(
        total=total_bytes(files),
        desc=description,
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        leave=False,
    )
