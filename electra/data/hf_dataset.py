"""A Hugging Face ``datasets`` dataset as one input of ``electra prepare`` (``--hf-dataset NAME``).

One row = one document, as a JSONL record: the ``text_field`` column holds its text
(:mod:`electra.data.text` turns rows into documents). ``NAME`` is either

- a local folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``: read with
  ``datasets.load_from_disk`` (memory-mapped Arrow files, iterated in batches of rows, so memory
  stays flat); a ``DatasetDict``'s split is chosen by ``split`` (default ``train``). It is
  identified like a file, by its path, total size and latest modification time: a rerun into the
  same ``--out`` resumes, and the same folder gives the same output bytes;
- anything else (a hub dataset, or a local folder of data files ``datasets`` reads with its
  packaged builders): streamed with ``datasets.load_dataset(NAME, config, split=split,
  streaming=True)``, nothing cached, memory flat. A hub dataset is identified by name, config and
  split only (not by a revision): a rerun into the same ``--out`` reuses what was built from it.

The dataset is one *part* of ``prepare`` (one worker builds it; ``--num-shards`` gives it to one
machine; an interrupted part is rebuilt from its first row). ``datasets`` is imported only when
such an input is used; its absence, an unreachable hub, a missing split or column are each an
:class:`~electra.errors.ElectraError` raised before any work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from electra.errors import ElectraError

DEFAULT_SPLIT = "train"
BATCH_ROWS = 1024
"""Rows of a local dataset read at a time."""
INSTALL = "pip install 'datasets>=2.14' (the extra: pip install 'electra[hf]')"
_SAVED_MARKERS = ("state.json", "dataset_dict.json")
"""Files ``save_to_disk`` writes at the top of a ``Dataset`` / ``DatasetDict`` folder."""


@dataclass(frozen=True)
class HFDataset:
    """``--hf-dataset NAME [--hf-config C] [--hf-split S]``: which dataset, which configuration, which
    split (None: ``train``, or the only one of a saved ``Dataset``)."""

    name: str
    config: str | None = None
    split: str | None = None

    @property
    def folder(self) -> Path | None:
        """The local folder ``name`` names, or None for a hub name."""
        path = Path(self.name)
        return path if path.is_dir() else None

    @property
    def saved(self) -> bool:
        """Whether ``name`` is a folder written by ``save_to_disk``."""
        folder = self.folder
        return folder is not None and any((folder / marker).is_file() for marker in _SAVED_MARKERS)

    @property
    def size(self) -> int:
        """Bytes on disk of a local folder (for progress bars); 0 for a hub dataset."""
        return sum(f.stat().st_size for f in self._files())

    @property
    def split_read(self) -> str | None:
        """The split read: ``split``, else ``train``; None for a saved ``Dataset`` (it has none)."""
        folder = self.folder
        if self.saved and not (folder / "dataset_dict.json").is_file():
            return self.split
        return self.split or DEFAULT_SPLIT

    def identity(self) -> dict:
        """What a part built from it must still match to be reused (see the module docstring)."""
        body = {"hf_dataset": self.name, "config": self.config, "split": self.split_read}
        folder = self.folder
        if folder is not None:
            files = self._files()
            body.update(
                path=str(folder.resolve()),
                size=sum(f.stat().st_size for f in files),
                mtime_ns=max((f.stat().st_mtime_ns for f in files), default=0),
            )
        return body

    def __str__(self) -> str:
        given = [f"{k} {v}" for k, v in (("config", self.config), ("split", self.split)) if v is not None]
        return f"{self.name} ({', '.join(given)})" if given else self.name

    def _files(self) -> list[Path]:
        folder = self.folder
        return [] if folder is None else sorted(f for f in folder.rglob("*") if f.is_file())


def datasets_module():
    """``datasets``, imported now; a clear error with the install line when it is missing."""
    try:
        import datasets
    except ImportError:
        raise ElectraError(f"--hf-dataset needs the datasets package: {INSTALL}") from None
    return datasets


def open_rows(source: HFDataset, field: str) -> tuple[int | None, Iterator[object]]:
    """The row count (None when streamed) and the values of column ``field``, row by row.

    Opening checks everything that can fail before any work (import, hub, split, column), so
    :func:`electra.data.prepare.prepare` calls it once up front."""
    datasets = datasets_module()
    if source.saved:
        data = _load_saved(datasets, source)
        _check_column(source, field, data.column_names)
        return data.num_rows, _saved_values(data, field)
    data = _load_stream(datasets, source)
    _check_column(source, field, data.column_names)  # None when the stream's features are unknown
    return None, _streamed_values(data, field, source)


def _load_saved(datasets, source: HFDataset):
    folder = source.folder
    if source.config is not None:
        raise ElectraError(f"{folder}: a folder written by save_to_disk has no configurations; leave out --hf-config")
    try:
        data = datasets.load_from_disk(str(folder))
    except Exception as exc:  # FileNotFoundError, JSON and Arrow errors for a damaged folder
        raise ElectraError(f"{folder}: not a readable save_to_disk folder ({_describe(exc)})") from None
    if isinstance(data, datasets.DatasetDict):
        split = source.split_read
        if split not in data:
            raise ElectraError(f"{folder}: no split {split!r} (splits: {', '.join(data)}); choose one with --hf-split")
        return data[split]
    if source.split is not None:
        raise ElectraError(f"{folder}: holds one Dataset, not a DatasetDict of splits; leave out --hf-split")
    return data


def _load_stream(datasets, source: HFDataset):
    where = f"--hf-dataset {source.name}"
    try:
        return datasets.load_dataset(source.name, source.config, split=source.split_read, streaming=True)
    except ConnectionError as exc:  # no network, or HF_DATASETS_OFFLINE / HF_HUB_OFFLINE set
        raise ElectraError(
            f"{where}: cannot reach the Hugging Face Hub ({_describe(exc)}); offline, use a local copy: "
            f"datasets.load_dataset(...).save_to_disk(DIR) where there is a network, then --hf-dataset DIR"
        ) from None
    except FileNotFoundError as exc:  # datasets' DatasetNotFoundError: no such dataset, or gated
        raise ElectraError(f"{where}: no such dataset on the Hub, nor a local folder ({_describe(exc)})") from None
    except ValueError as exc:  # an unknown configuration or split
        raise ElectraError(f"{where}: {_describe(exc)}") from None


def _check_column(source: HFDataset, field: str, columns: list[str] | None) -> None:
    if columns is not None and field not in columns:
        raise ElectraError(
            f"{source}: no column {field!r} (columns: {', '.join(columns)}); choose the text column with --text-field"
        )


def _saved_values(data, field: str) -> Iterator[object]:
    for batch in data.select_columns([field]).iter(batch_size=BATCH_ROWS):
        yield from batch[field]


def _streamed_values(data, field: str, source: HFDataset) -> Iterator[object]:
    if data.column_names is not None:
        data = data.select_columns([field])
    rows = 0
    try:
        for row in data:
            rows += 1
            if field not in row:
                _check_column(source, field, list(row))
            yield row[field]
    except ConnectionError as exc:
        raise ElectraError(
            f"--hf-dataset {source.name}: lost the Hugging Face Hub after {rows} rows ({_describe(exc)}); "
            f"rerun, or use a local copy (save_to_disk)"
        ) from None


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # one line
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
