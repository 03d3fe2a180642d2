"""Streaming text input: documents, folders, and every kind of bad file."""

import gzip
import hashlib

import pytest

from electra.data import text
from electra.data.text import TextStats, iter_documents, resolve_inputs
from electra.errors import ElectraError


def read_all(paths, **kwargs):
    stats = TextStats()
    documents = list(iter_documents(resolve_inputs(paths), stats, **kwargs))
    return documents, stats


def test_blank_lines_end_documents(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("  one \ntwo\n\n\n\nthree\n   \nfour\r\nfive", encoding="utf-8")
    documents, stats = read_all([path])
    assert documents == [["one", "two"], ["three"], ["four", "five"]]
    assert (stats.documents, stats.lines, len(stats.files)) == (3, 5, 1)
    entry = stats.files[0]
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (entry.lines, entry.documents) == (5, 3)


def test_folders_are_walked_recursively_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("z\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    with gzip.open(tmp_path / "b" / "c.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("c1\n\nc2\n")
    (tmp_path / "notes.md").write_text("ignored\n", encoding="utf-8")
    documents, _ = read_all([tmp_path])
    assert documents == [["a"], ["c1"], ["c2"], ["z"]]


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(ElectraError, match="nope.txt"):
        resolve_inputs([tmp_path / "nope.txt"])
    (tmp_path / "only.md").write_text("x", encoding="utf-8")
    with pytest.raises(ElectraError, match=str(tmp_path)):
        resolve_inputs([tmp_path])


def test_bad_files_are_skipped_and_counted(tmp_path, capsys):
    (tmp_path / "binary.txt").write_bytes(b"abc\x00\x01\x02" * 10)
    (tmp_path / "corrupt.txt.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n \n\t\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ok\nfine\n".encode("latin-1"))
    full = gzip.compress(b"kept line\n\n" + b"more text\n" * 2000)
    (tmp_path / "truncated.txt.gz").write_bytes(full[: len(full) - 20])
    documents, stats = read_all([tmp_path])
    reasons = {entry["file"].rsplit("/", 1)[1]: entry["reason"] for entry in stats.skipped_files}
    assert set(reasons) == {"binary.txt", "corrupt.txt.gz", "empty.txt", "blank.txt", "truncated.txt.gz"}
    assert "binary" in reasons["binary.txt"] and "gzip" in reasons["corrupt.txt.gz"]
    assert "empty" in reasons["empty.txt"] and "stopped after" in reasons["truncated.txt.gz"]
    assert documents[0] == ["caf\ufffd ok", "fine"]
    assert documents[1] == ["kept line"]
    assert stats.replaced_lines == 1
    assert [f.file.rsplit("/", 1)[1] for f in stats.files] == ["latin1.txt", "truncated.txt.gz"]
    err = capsys.readouterr().err
    assert "binary.txt" in err and "corrupt.txt.gz" in err


def test_long_lines_are_split_into_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "MAX_LINE_CHARS", 10)
    path = tmp_path / "long.txt"
    path.write_text("short\n" + "abcdefghij" * 3 + "xy\nend\n", encoding="utf-8")
    documents, stats = read_all([path])
    assert documents == [["short", "abcdefghij", "abcdefghij", "abcdefghij", "xy", "end"]]
    assert stats.split_lines == 1


def test_long_documents_come_in_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "MAX_DOCUMENT_LINES", 3)
    path = tmp_path / "doc.txt"
    path.write_text("\n".join(str(i) for i in range(7)) + "\n", encoding="utf-8")
    documents, _ = read_all([path])
    assert documents == [["0", "1", "2"], ["3", "4", "5"], ["6"]]


def test_progress_callback_sees_every_byte(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress(b"".join(b"line %d\n" % i for i in range(5000))))
    seen = []
    list(iter_documents([path], TextStats(), on_bytes=seen.append))
    assert sum(seen) == path.stat().st_size
