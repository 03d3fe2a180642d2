"""Question answering files: SQuAD v1.1 / v2.0 JSON -> :class:`QaExample`.

Choices:

- A SQuAD answer whose offset does not match its text is moved to the nearest occurrence of the
  text in the context (datasets converted from other formats are often off by a few characters);
  an answer that does not occur at all is an error. Answers of an impossible question are dropped.
- A question without ``answers`` is unlabelled; in a v2 file, one with an empty list is impossible
  unless ``is_impossible`` says otherwise. Question ids must be unique within the file.
- Messages name the line of the question's ``"id"`` (found by one regex pass over the text) and
  the question's place in the nesting (``data[0].paragraphs[2].qas[1]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from electra.errors import ElectraError
from electra.finetune.examples import Answer, QaExample
from electra.finetune.readers.common import FileReader, at
from electra.finetune.tasks import TaskSpec

_ID_KEY = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _read_squad(path: Path, text: str, spec: TaskSpec) -> list[QaExample]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ElectraError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict) or "data" not in document:
        raise ElectraError(f"{path}: no 'data' list at the top level (expected a SQuAD file)")
    v2 = str(document.get("version", "")).startswith("v2")
    id_lines = _id_lines(text)
    examples: list[QaExample] = []
    seen: dict[str, int] = {}
    for where, context, question in _squad_questions(path, document):
        example = _qa_example(path, where, context, question, v2, id_lines)
        if example.qid in seen:
            raise ElectraError(f"{at(path, example.line)}: {where}: question id '{example.qid}' occurs twice")
        seen[example.qid] = example.line
        examples.append(example)
    return examples


def _id_lines(text: str) -> dict[str, int]:
    """Each string value of an ``"id"`` key -> the line it first occurs on (one regex pass)."""
    lines: dict[str, int] = {}
    line, position = 1, 0
    for match in _ID_KEY.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        try:
            qid = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            continue
        lines.setdefault(qid, line)
    return lines


def _squad_questions(path: Path, document: Mapping[str, object]) -> Iterator[tuple[str, str, Mapping]]:
    """``(where, context, question object)`` for every question, checking the nesting."""
    for i, article in enumerate(_member(path, document, "data", "", list)):
        article_at = f"data[{i}]"
        paragraphs = _member(path, _object(path, article, article_at), "paragraphs", article_at, list)
        for j, paragraph in enumerate(paragraphs):
            paragraph_at = f"{article_at}.paragraphs[{j}]"
            paragraph = _object(path, paragraph, paragraph_at)
            context = _member(path, paragraph, "context", paragraph_at, str)
            for k, question in enumerate(_member(path, paragraph, "qas", paragraph_at, list)):
                question_at = f"{paragraph_at}.qas[{k}]"
                yield question_at, context, _object(path, question, question_at)


def _qa_example(
    path: Path, where: str, context: str, question: Mapping, v2: bool, id_lines: Mapping[str, int]
) -> QaExample:
    raw_id = _member(path, question, "id", where, (str, int))
    qid = str(raw_id)
    line = id_lines.get(qid, 0) if isinstance(raw_id, str) else 0
    text = _member(path, question, "question", where, str)
    if "answers" not in question:  # an unlabelled file
        return QaExample(qid, text, context, (), False, line)
    raw_answers = _member(path, question, "answers", where, list)
    impossible = bool(question.get("is_impossible", v2 and not raw_answers))
    answers = (
        ()
        if impossible
        else tuple(
            located_answer(
                path, f"{where}.answers[{n}]", qid, line, context, _object(path, answer, f"{where}.answers[{n}]")
            )
            for n, answer in enumerate(raw_answers)
        )
    )
    return QaExample(qid, text, context, answers, impossible, line)


def located_answer(path: Path, where: str, qid: str, line: int, context: str, answer: Mapping) -> Answer:
    """The answer, its start moved to the nearest place where its text occurs in the context."""
    text = _member(path, answer, "text", where, str)
    start = _member(path, answer, "answer_start", where, int)
    if not text:
        raise ElectraError(f"{at(path, line)}: question '{qid}': {where} has an empty text")
    found = _locate(text, context, start)
    if found is None:
        raise ElectraError(
            f"{at(path, line)}: question '{qid}': answer {text!r} (at {start}) does not occur in its context"
        )
    return Answer(text, found)


def _locate(text: str, context: str, start: int) -> int | None:
    """``start`` when the context holds ``text`` there, else the closest start that does."""
    if start >= 0 and context.startswith(text, start):
        return start
    starts = [m.start() for m in re.finditer(re.escape(text), context)]
    if not starts:
        return None
    return min(starts, key=lambda s: (abs(s - start), s))


def _member(path: Path, obj: Mapping, key: str, where: str, kind: type | tuple[type, ...]) -> object:
    """``obj[key]`` checked to be of ``kind`` (bools are not ints), else an error naming where."""
    prefix = f"{where}: " if where else ""
    if key not in obj:
        raise ElectraError(f"{path}: {prefix}no '{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ElectraError(f"{path}: {prefix}'{key}' should be a {names}, found {json.dumps(value)[:60]}")
    return value


def _object(path: Path, value: object, where: str) -> Mapping:
    if not isinstance(value, dict):
        raise ElectraError(f"{path}: {where}: expected an object, found {json.dumps(value)[:60]}")
    return value


READERS: dict[str, FileReader] = {".json": _read_squad}
"""File extension -> reader of the decoded text."""
