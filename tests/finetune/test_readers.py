"""Reading fine-tuning files: GLUE layouts, generic tables, CoNLL, SQuAD, labels, hub datasets.

Every fixture is a few rows written into ``tmp_path`` in the real file layout of its dataset.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
from pathlib import Path

import pytest

from electra.errors import ElectraError
from electra.finetune.examples import Answer, Split, TaggedExample, TextExample
from electra.finetune.readers import check_known_labels, label_set, load_hub_dataset, read_split, split_files
from electra.finetune.tasks import GLUE, KIND_DEFAULTS

CLASSIFICATION = KIND_DEFAULTS["classification"]
PAIR = KIND_DEFAULTS["pair-classification"]
REGRESSION = KIND_DEFAULTS["regression"]
TAGGING = KIND_DEFAULTS["tagging"]
QA = KIND_DEFAULTS["qa"]


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def tsv(*rows: tuple) -> str:
    return "".join("\t".join(str(field) for field in row) + "\n" for row in rows)


def fails(match: str):
    """``pytest.raises(ElectraError)`` with ``match`` taken literally."""
    return pytest.raises(ElectraError, match=re.escape(match))


# ---------------------------------------------------------------------------------------------
# GLUE files as downloaded
# ---------------------------------------------------------------------------------------------


def test_cola_headerless_train_and_headed_test(tmp_path):
    train = write(
        tmp_path,
        "train.tsv",
        tsv(
            ("gj04", 1, "", "Our friends won't buy this analysis, let alone the next one we propose."),
            ("gj04", 0, "*", "They drank the pub."),
        ),
    )
    test = write(
        tmp_path,
        "test.tsv",
        tsv(("index", "sentence"), (0, "Bill whistled past the house."), (1, "The car honked its way down the road.")),
    )
    split = read_split(train, GLUE["cola"])
    assert [e.texts for e in split.examples] == [
        ("Our friends won't buy this analysis, let alone the next one we propose.",),
        ("They drank the pub.",),
    ]
    assert [(e.label, e.line, e.guid) for e in split.examples] == [("1", 1, "0"), ("0", 2, "1")]
    unlabelled = read_split(test, GLUE["cola"])
    assert not unlabelled.labelled
    assert [(e.guid, e.texts, e.label, e.line) for e in unlabelled.examples] == [
        ("0", ("Bill whistled past the house.",), None, 2),
        ("1", ("The car honked its way down the road.",), None, 3),
    ]


def test_sst2_keeps_text_as_written(tmp_path):
    path = write(
        tmp_path,
        "train.tsv",
        tsv(
            ("sentence", "label"),
            ("hide new secretions from the parental units ", 0),
            ("contains no wit , only labored gags ", 1),
        ),
    )
    split = read_split(path, GLUE["sst2"])
    assert split.examples[0] == TextExample("0", ("hide new secretions from the parental units ",), "0", 2)
    assert split.examples[1].label == "1" and split.labelled


def test_mrpc_with_byte_order_mark_and_stray_quotes(tmp_path):
    header = ("\ufeffQuality", "#1 ID", "#2 ID", "#1 String", "#2 String")
    path = write(
        tmp_path,
        "train.tsv",
        tsv(
            header,
            (
                1,
                702876,
                702977,
                'Amrozi accused his brother , whom he called " the witness " , of distorting .',
                'Referring to him as only " the witness " , Amrozi accused his brother .',
            ),
            (0, 2108705, 2108831, 'He said " it was over , then left .', "Yucaipa bought Dominick 's in 1995 ."),
        ),
    )
    split = read_split(path, GLUE["mrpc"])
    assert [e.label for e in split.examples] == ["1", "0"]
    assert split.examples[1].texts == ('He said " it was over , then left .', "Yucaipa bought Dominick 's in 1995 .")
    assert [e.line for e in split.examples] == [2, 3]
    test = write(
        tmp_path,
        "test.tsv",
        tsv(
            ("index", "#1 ID", "#2 ID", "#1 String", "#2 String"),
            (0, 1089874, 1089925, "PCCW 's chief .", "Current Chief ."),
        ),
    )
    assert read_split(test, GLUE["mrpc"]).examples == [
        TextExample("0", ("PCCW 's chief .", "Current Chief ."), None, 2)
    ]


def test_qqp_uses_the_id_column_as_guid(tmp_path):
    path = write(
        tmp_path,
        "dev.tsv",
        tsv(
            ("id", "qid1", "qid2", "question1", "question2", "is_duplicate"),
            (201359, 303345, 303346, "Why are African-Americans so beautiful?", "Why are hispanics so beautiful?", 0),
            (263843, 69383, 380476, "I want to pursue PhD?", "How to pursue PhD?", 1),
        ),
    )
    split = read_split(path, GLUE["qqp"])
    assert [(e.guid, e.label) for e in split.examples] == [("201359", "0"), ("263843", "1")]
    assert split.examples[1].texts == ("I want to pursue PhD?", "How to pursue PhD?")


STSB_HEADER = ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2")


def test_stsb_scores_are_floats_and_test_is_unlabelled(tmp_path):
    train = write(
        tmp_path,
        "train.tsv",
        tsv(
            STSB_HEADER + ("score",),
            (
                0,
                "main-captions",
                "MSRvid",
                "2012test",
                1,
                "none",
                "none",
                "A plane is taking off.",
                "An air plane is taking off.",
                "5.000",
            ),
            (
                1,
                "main-captions",
                "MSRvid",
                "2012test",
                4,
                "none",
                "none",
                "A man is playing a flute.",
                "A man is playing a flute.",
                "3.800",
            ),
        ),
    )
    split = read_split(train, GLUE["stsb"])
    assert [e.label for e in split.examples] == [5.0, 3.8]
    assert split.examples[0].texts == ("A plane is taking off.", "An air plane is taking off.")
    test = write(
        tmp_path,
        "test.tsv",
        tsv(
            STSB_HEADER,
            (
                0,
                "main-captions",
                "MSRvid",
                "2012test",
                24,
                "none",
                "none",
                "A girl is styling her hair.",
                "A girl is brushing.",
            ),
        ),
    )
    assert read_split(test, GLUE["stsb"]).examples[0].label is None


MNLI_PARSES = ("sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse", "sentence2_parse")


def mnli_row(index: int, *labels: str) -> tuple:
    return (
        index,
        31193,
        f"{index}n",
        "government",
        "( x )",
        "( y )",
        "(ROOT x)",
        "(ROOT y)",
        f"Premise {index} .",
        f"Hypothesis {index} .",
        *labels,
    )


def test_mnli_folder_prefers_dev_matched(tmp_path):
    prefix = ("index", "promptID", "pairID", "genre", *MNLI_PARSES, "sentence1", "sentence2")
    write(
        tmp_path,
        "train.tsv",
        tsv(
            prefix + ("label1", "gold_label"),
            mnli_row(0, "neutral", "neutral"),
            mnli_row(1, "entailment", "entailment"),
        ),
    )
    dev_header = prefix + ("label1", "label2", "label3", "label4", "label5", "gold_label")
    write(tmp_path, "dev_matched.tsv", tsv(dev_header, mnli_row(0, *["contradiction"] * 6)))
    write(tmp_path, "dev_mismatched.tsv", tsv(dev_header, mnli_row(0, *["neutral"] * 6)))
    write(tmp_path, "test_matched.tsv", tsv(prefix, mnli_row(0)))
    write(tmp_path, "test_mismatched.tsv", tsv(prefix, mnli_row(0)))
    files = split_files(tmp_path, GLUE["mnli"])
    assert {k: v.name for k, v in files.items()} == {
        "train": "train.tsv",
        "dev": "dev_matched.tsv",
        "test": "test_matched.tsv",
    }
    train = read_split(files["train"], GLUE["mnli"])
    assert [(e.guid, e.texts, e.label) for e in train.examples] == [
        ("0", ("Premise 0 .", "Hypothesis 0 ."), "neutral"),
        ("1", ("Premise 1 .", "Hypothesis 1 ."), "entailment"),
    ]
    assert read_split(files["dev"], GLUE["mnli"]).examples[0].label == "contradiction"
    assert not read_split(files["test"], GLUE["mnli"]).labelled


def test_qnli_and_rte(tmp_path):
    qnli = write(
        tmp_path,
        "qnli.tsv",
        tsv(
            ("index", "question", "sentence", "label"),
            (
                0,
                "What came into force after the new constitution?",
                "As of that day, the new constitution came into force.",
                "entailment",
            ),
        ),
    )
    example = read_split(qnli, GLUE["qnli"]).examples[0]
    assert example.texts[0].startswith("What came") and example.label == "entailment"
    rte = write(
        tmp_path,
        "rte.tsv",
        tsv(
            ("index", "sentence1", "sentence2", "label"),
            (
                0,
                "No Weapons of Mass Destruction Found in Iraq Yet.",
                "Weapons of Mass Destruction Found in Iraq.",
                "not_entailment",
            ),
            (1, "A place of sorrow.", "Pope Benedict XVI is the new leader.", "entailment"),
        ),
    )
    split = read_split(rte, GLUE["rte"])
    assert [(e.label, e.line) for e in split.examples] == [("not_entailment", 2), ("entailment", 3)]


# ---------------------------------------------------------------------------------------------
# Generic tables: CSV, JSONL, regression, column choice
# ---------------------------------------------------------------------------------------------


def test_csv_quoting_and_user_columns(tmp_path):
    path = write(
        tmp_path, "train.csv", 'id,review,stars\n7,"Good, cheap, fast",5\n8,"Two\nlines, ""quoted""",1\n9,plain,3\n'
    )
    split = read_split(path, CLASSIFICATION.with_columns(("review",), "stars"))
    assert [(e.guid, e.texts, e.label, e.line) for e in split.examples] == [
        ("7", ("Good, cheap, fast",), "5", 2),
        ("8", ('Two\nlines, "quoted"',), "1", 3),
        ("9", ("plain",), "3", 5),
    ]


def test_csv_default_columns_crlf_and_blank_lines(tmp_path):
    path = write(tmp_path, "train.csv", "text,label\r\nfine,pos\r\n\r\nbad,neg\r\n")
    split = read_split(path, CLASSIFICATION)
    assert [(e.texts, e.label, e.line) for e in split.examples] == [(("fine",), "pos", 2), (("bad",), "neg", 4)]


def test_unclosed_csv_quote_names_the_record_start(tmp_path):
    path = write(tmp_path, "train.csv", 'text,label\nok,1\n"never closed,0\nmore,1\n')
    with fails(f"{path}:3: not valid CSV"):
        read_split(path, CLASSIFICATION)


def test_jsonl_labels_agree_with_their_text(tmp_path):
    rows = [
        {"text": "a", "label": 1},
        {"text": "b", "label": "1 "},
        {"text": "c", "label": 0.0},
        {"text": "d", "label": True},
        {"text": "e", "label": 2.5},
    ]
    path = write(tmp_path, "train.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    split = read_split(path, CLASSIFICATION)
    assert [e.label for e in split.examples] == ["1", "1", "0", "1", "2.5"]
    assert [e.line for e in split.examples] == [1, 2, 3, 4, 5]


def test_jsonl_pairs_with_ids_and_regression(tmp_path):
    rows = [
        {"idx": 3, "sentence1": "x", "sentence2": "y", "score": 4},
        {"sentence1": "p", "sentence2": "", "score": "0.5"},
    ]
    path = write(tmp_path, "dev.jsonl", "\n".join(json.dumps(r) for r in rows))
    split = read_split(path, REGRESSION)
    assert split.examples == [TextExample("3", ("x", "y"), 4.0, 1), TextExample("1", ("p", ""), 0.5, 2)]


def test_regression_label_must_be_a_number(tmp_path):
    path = write(tmp_path, "train.tsv", tsv(("sentence1", "sentence2", "score"), ("a", "b", "1.5"), ("c", "d", "abc")))
    with fails(f"{path}:3: label column 'score' value 'abc' is not a number"):
        read_split(path, REGRESSION)
    path = write(tmp_path, "nan.tsv", tsv(("sentence1", "sentence2", "score"), ("a", "b", "nan")))
    with fails(f"{path}:2: label column 'score' value 'nan' is not a finite number"):
        read_split(path, REGRESSION)


def test_default_text_columns_in_order_and_unlabelled_file(tmp_path):
    path = write(tmp_path, "test.tsv", tsv(("question", "sentence", "text"), ("q?", "s.", "t")))
    assert read_split(path, PAIR).examples == [TextExample("0", ("q?", "s."), None, 2)]


def test_missing_text_columns_name_what_the_file_has(tmp_path):
    path = write(tmp_path, "train.tsv", tsv(("review", "label"), ("nice", 1)))
    with pytest.raises(ElectraError) as caught:
        read_split(path, CLASSIFICATION)
    message = str(caught.value)
    assert str(path) in message and "'review', 'label'" in message and "'text'" in message
    assert "--text-columns" in message
    with fails("no text column(s) 'body'"):
        read_split(path, CLASSIFICATION.with_columns(("body",), None))


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("short.tsv", "sentence\tlabel\nfine\t1\nshort\n", "short.tsv:3: expected 2 columns, found 1"),
        ("long.tsv", "sentence\tlabel\nfine\t1\nlong\t1\textra\n", "long.tsv:3: expected 2 columns, found 3"),
        ("short.csv", "text,label\nfine,1\n\nshort\n", "short.csv:4: expected 2 columns, found 1"),
        ("empty_text.tsv", "sentence1\tsentence2\tlabel\n\t \t1\n", "empty_text.tsv:2: empty text"),
        (
            "empty_label.tsv",
            "sentence\tlabel\nfine\t1\nno label\t \n",
            "empty_label.tsv:3: empty label in column 'label'",
        ),
        ("empty.tsv", "", "empty.tsv: no examples"),
        ("header.tsv", "sentence\tlabel\n\n", "header.tsv: no examples"),
        ("bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label: 1}\n', "bad.jsonl:2: not valid JSON"),
        ("list.jsonl", '{"text": "a", "label": 1}\n\n["b", 1]\n', "list.jsonl:3: expected a JSON object, found list"),
        ("nokey.jsonl", '{"text": "a", "label": 1}\n{"label": 0}\n', "nokey.jsonl:2: no 'text' key"),
        ("nolabel.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n', "nolabel.jsonl:2: no 'label' key"),
        ("nulllabel.jsonl", '{"text": "a", "label": null}\n', "nulllabel.jsonl:1: empty label"),
        ("number.jsonl", '{"text": 5, "label": 1}\n', "number.jsonl:1: 'text' should be a string"),
        ("dict.jsonl", '{"text": "a", "label": {"x": 1}}\n', "dict.jsonl:1: label column 'label' should be a string"),
    ],
)
def test_table_errors_name_file_and_line(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with fails(str(tmp_path / message)):
        read_split(path, CLASSIFICATION)


def test_bad_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "train.tsv", b"sentence\tlabel\nfine\t1\ncaf\xe9\t0\n")
    with fails(f"{path}:3: not valid UTF-8"):
        read_split(path, CLASSIFICATION)


def test_binary_file_is_refused(tmp_path):
    path = write(tmp_path, "train.tsv", b"sentence\tlabel\n\x00\x01\x02\t1\n")
    with fails(f"{path}: looks binary"):
        read_split(path, CLASSIFICATION)


def test_extension_must_suit_the_kind_and_file_must_exist(tmp_path):
    with fails("a qa task reads .json files, not '.tsv'"):
        read_split(write(tmp_path, "train.tsv", "x\n"), QA)
    with fails("a classification task reads .tsv, .txt, .csv, .jsonl files, not '.parquet'"):
        read_split(write(tmp_path, "train.parquet", "x\n"), CLASSIFICATION)
    with fails(f"{tmp_path / 'gone.tsv'}: file not found"):
        read_split(tmp_path / "gone.tsv", CLASSIFICATION)


# ---------------------------------------------------------------------------------------------
# Tagging: CoNLL and JSONL
# ---------------------------------------------------------------------------------------------

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def test_conll_2003_four_columns_tag_is_last(tmp_path):
    split = read_split(write(tmp_path, "train.conll", CONLL_2003), TAGGING)
    assert split.examples == [
        TaggedExample("0", ("EU", "rejects", "German"), ("B-ORG", "O", "B-MISC"), 3),
        TaggedExample("1", ("Peter", "Blackburn"), ("B-PER", "I-PER"), 7),
        TaggedExample("2", ("BRUSSELS",), ("B-LOC",), 12),
    ]
    pos = read_split(tmp_path / "train.conll", dataclasses.replace(TAGGING, tag_column=1))
    assert pos.examples[0].tags == ("NNP", "VBZ", "JJ")


def test_conll_two_tab_columns_without_trailing_blank_line(tmp_path):
    path = write(tmp_path, "train.tsv", "New York\tB-LOC\nis\tO\n\n\n\nnice\tO\r\n.\tO")
    split = read_split(path, TAGGING)
    assert split.examples == [
        TaggedExample("0", ("New York", "is"), ("B-LOC", "O"), 1),
        TaggedExample("1", ("nice", "."), ("O", "O"), 6),
    ]


def test_conll_one_column_is_unlabelled(tmp_path):
    split = read_split(write(tmp_path, "test.txt", "Hello\nworld\n\nBye\n"), TAGGING)
    assert split.examples == [TaggedExample("0", ("Hello", "world"), None, 1), TaggedExample("1", ("Bye",), None, 4)]
    assert not split.labelled


@pytest.mark.parametrize(
    "content, message",
    [
        ("EU NNP B-NP B-ORG\nrejects\n", "train.conll:2: expected a token and a tag column"),
        ("EU NNP B-NP B-ORG\n\nrejects VBZ B-VP O extra\n", "train.conll:3: found 5 columns, but line 1 has 4"),
        ("EU\nrejects O\n", "train.conll:2: found 2 columns, but line 1 has 1"),
        ("", "train.conll: no examples"),
        ("-DOCSTART- -X- -X- O\n\n", "train.conll: no examples"),
    ],
)
def test_conll_errors(tmp_path, content, message):
    path = write(tmp_path, "train.conll", content)
    with fails(str(tmp_path / message)):
        read_split(path, TAGGING)


def test_conll_tag_column_out_of_range(tmp_path):
    spec = dataclasses.replace(TAGGING, tag_column=5)
    with fails(f"{tmp_path / 'train.conll'}:1: expected a token and a tag column"):
        read_split(write(tmp_path, "train.conll", "EU B-ORG\n"), spec)


def test_jsonl_tagging(tmp_path):
    lines = [{"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]}, {"tokens": ["x"], "ner_tags": [3]}]
    split = read_split(write(tmp_path, "train.jsonl", "\n".join(map(json.dumps, lines))), TAGGING)
    assert split.examples == [
        TaggedExample("0", ("EU", "rejects"), ("B-ORG", "O"), 1),
        TaggedExample("1", ("x",), ("3",), 2),
    ]
    unlabelled = read_split(write(tmp_path, "test.jsonl", '{"tokens": ["a", "b"]}\n'), TAGGING)
    assert unlabelled.examples == [TaggedExample("0", ("a", "b"), None, 1)]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"tokens": ["a", "b"], "tags": ["O"]}', "t.jsonl:2: 2 tokens but 1 tags"),
        ('{"words": ["a"], "tags": ["O"]}', "t.jsonl:2: no 'tokens' key"),
        ('{"tokens": "a b", "tags": ["O"]}', "t.jsonl:2: 'tokens' should be a list of strings"),
        ('{"tokens": [], "tags": []}', "t.jsonl:2: 'tokens' is empty"),
        ('{"tokens": ["a"]}', "t.jsonl:2: no 'tags' key"),
    ],
)
def test_jsonl_tagging_errors(tmp_path, line, message):
    path = write(tmp_path, "t.jsonl", '{"tokens": ["ok"], "tags": ["O"]}\n' + line + "\n")
    with fails(str(tmp_path / message)):
        read_split(path, TAGGING)


# ---------------------------------------------------------------------------------------------
# SQuAD
# ---------------------------------------------------------------------------------------------

CONTEXT = "Architecturally, the school has a Catholic character. The school is in Notre Dame."


def squad(version: str, *qas: dict, context: str = CONTEXT) -> str:
    document = {"version": version, "data": [{"title": "ND", "paragraphs": [{"context": context, "qas": list(qas)}]}]}
    return json.dumps(document, indent=1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_squad_v1_with_several_answers(tmp_path):
    text = squad(
        "1.1",
        {
            "id": "q1",
            "question": "What character?",
            "answers": [{"text": "Catholic", "answer_start": 34}, {"text": "a Catholic character", "answer_start": 32}],
        },
        {"id": "q2", "question": "Where?", "answers": [{"text": "Notre Dame", "answer_start": 71}]},
    )
    split = read_split(write(tmp_path, "dev.json", text), QA)
    first, second = split.examples
    assert first.qid == first.guid == "q1" and first.question == "What character?" and first.context == CONTEXT
    assert first.answers == (Answer("Catholic", 34), Answer("a Catholic character", 32))
    assert not first.is_impossible and second.answers == (Answer("Notre Dame", 71),)
    assert (first.line, second.line) == (line_of(text, '"q1"'), line_of(text, '"q2"'))
    assert first.line > 1 and second.line > first.line


def test_squad_v2_impossible_questions(tmp_path):
    text = squad(
        "v2.0",
        {
            "id": "a",
            "question": "Who?",
            "answers": [],
            "is_impossible": True,
            "plausible_answers": [{"text": "school", "answer_start": 21}],
        },
        {"id": "b", "question": "What?", "answers": []},
        {
            "id": "c",
            "question": "Where?",
            "answers": [{"text": "Notre Dame", "answer_start": 71}],
            "is_impossible": False,
        },
    )
    a, b, c = read_split(write(tmp_path, "train.json", text), QA).examples
    assert (a.is_impossible, a.answers) == (True, ())
    assert (b.is_impossible, b.answers) == (True, ())
    assert (c.is_impossible, c.answers) == (False, (Answer("Notre Dame", 71),))
    v1 = squad("1.1", {"id": "b", "question": "What?", "answers": []})
    assert not read_split(write(tmp_path, "v1.json", v1), QA).examples[0].is_impossible


def test_squad_unlabelled_file(tmp_path):
    text = json.dumps({"data": [{"paragraphs": [{"context": CONTEXT, "qas": [{"id": "x", "question": "Q?"}]}]}]})
    example = read_split(write(tmp_path, "test.json", text), QA).examples[0]
    assert (example.answers, example.is_impossible, example.line) == ((), False, 1)


def test_squad_answer_offset_moves_to_nearest_occurrence(tmp_path):
    # "school" occurs at 21 and 58; 55 is off by three from the second one.
    text = squad(
        "1.1",
        {
            "id": "q",
            "question": "What?",
            "answers": [{"text": "school", "answer_start": 55}, {"text": "school", "answer_start": 24}],
        },
    )
    answers = read_split(write(tmp_path, "train.json", text), QA).examples[0].answers
    assert answers == (Answer("school", 58), Answer("school", 21))
    assert CONTEXT[58:64] == CONTEXT[21:27] == "school"


def test_squad_answer_not_in_context(tmp_path):
    text = squad(
        "1.1",
        {"id": "ok", "question": "?", "answers": [{"text": "school", "answer_start": 21}]},
        {"id": "q7", "question": "Who?", "answers": [{"text": "Harvard", "answer_start": 3}]},
    )
    path = write(tmp_path, "train.json", text)
    line = line_of(text, '"q7"')
    with fails(f"{path}:{line}: question 'q7': answer 'Harvard' (at 3) does not occur"):
        read_split(path, QA)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"data": [\n  {"paragraphs": [}\n]}', "train.json:2:19: not valid JSON (Expecting value)"),
        ('{"version": "1.1"}', "train.json: no 'data' list"),
        ('{"data": [{"title": "x"}]}', "train.json: data[0]: no 'paragraphs'"),
        (
            '{"data": [{"paragraphs": [{"context": 3, "qas": []}]}]}',
            "train.json: data[0].paragraphs[0]: 'context' should be a str",
        ),
        (
            squad("1.1", {"id": "1", "question": "q?"}, {"id": "2"}),
            "train.json: data[0].paragraphs[0].qas[1]: no 'question'",
        ),
        (
            squad("1.1", {"id": "1", "question": "q", "answers": [{"text": "c", "answer_start": "0"}]}),
            "train.json: data[0].paragraphs[0].qas[0].answers[0]: 'answer_start' should be a int",
        ),
        (
            squad("1.1", {"id": "1", "question": "q", "answers": [{"text": "", "answer_start": 0}]}),
            "train.json:11: question '1': data[0].paragraphs[0].qas[0].answers[0] has an empty text",
        ),
        (
            squad("1.1", {"id": "1", "question": "q"}, {"id": "1", "question": "r"}),
            "train.json:11: data[0].paragraphs[0].qas[1]: question id '1' occurs twice",
        ),
        ('["not", "squad"]', "train.json: no 'data' list"),
    ],
)
def test_squad_structure_errors(tmp_path, text, message):
    path = write(tmp_path, "train.json", text)
    with fails(str(tmp_path / message)):
        read_split(path, QA)


# ---------------------------------------------------------------------------------------------
# Label sets
# ---------------------------------------------------------------------------------------------


def text_split(*labels, path: str = "train.tsv") -> Split:
    return Split(Path(path), [TextExample(str(i), ("t",), label, i + 2) for i, label in enumerate(labels)])


def test_label_set_orders_found_labels():
    assert label_set(text_split("10", "2", "1", "2"), CLASSIFICATION) == ("1", "2", "10")
    assert label_set(text_split("pos", "neg", "-1"), CLASSIFICATION) == ("-1", "neg", "pos")
    assert label_set(text_split("1"), GLUE["sst2"]) == ("0", "1")
    tagged = Split(Path("t.conll"), [TaggedExample("0", ("a", "b", "c"), ("I-PER", "O", "B-PER"), 1)])
    assert label_set(tagged, TAGGING) == ("O", "B-PER", "I-PER")


def test_label_set_errors():
    with fails("a regression task has no label set"):
        label_set(text_split(1.0), REGRESSION)
    with fails("a qa task has no label set"):
        label_set(text_split("x"), QA)
    with fails("unlabelled.tsv: no labels"):
        label_set(text_split(None, path="unlabelled.tsv"), CLASSIFICATION)


def test_check_known_labels():
    check_known_labels(text_split("a", None, "b"), ("a", "b"))
    with fails("dev.tsv:3: label 'c' does not occur in the training data (known: a, b)"):
        check_known_labels(text_split("a", "c", path="dev.tsv"), ("a", "b"))
    tagged = Split(Path("dev.conll"), [TaggedExample("0", ("a",), ("O",), 1), TaggedExample("1", ("b",), ("B-X",), 4)])
    with fails("dev.conll:4: label 'B-X'"):
        check_known_labels(tagged, ("O",))


# ---------------------------------------------------------------------------------------------
# Finding files
# ---------------------------------------------------------------------------------------------


def test_split_files_generic_names_and_unrelated_files(tmp_path):
    for name in ("train.csv", "validation.csv", "test.jsonl", "notes.txt", "notes.json", "dev_ids.tsv"):
        write(tmp_path, name, "x\n")
    (tmp_path / "original").mkdir()
    assert split_files(tmp_path, CLASSIFICATION) == {
        "train": tmp_path / "train.csv",
        "dev": tmp_path / "validation.csv",
        "test": tmp_path / "test.jsonl",
    }


def test_split_files_dev_order_and_train_only(tmp_path):
    write(tmp_path, "train.tsv", "x\n")
    assert split_files(tmp_path, CLASSIFICATION) == {"train": tmp_path / "train.tsv"}
    write(tmp_path, "dev.tsv", "x\n")
    write(tmp_path, "dev_matched.tsv", "x\n")
    assert split_files(tmp_path, GLUE["mnli"])["dev"] == tmp_path / "dev_matched.tsv"
    assert split_files(tmp_path, GLUE["qnli"])["dev"] == tmp_path / "dev.tsv"


def test_split_files_errors(tmp_path):
    write(tmp_path, "train.tsv", "x\n")
    write(tmp_path, "train.csv", "x\n")
    with fails("both train.csv and train.tsv could be the 'train' file"):
        split_files(tmp_path, CLASSIFICATION)
    other = tmp_path / "other"
    other.mkdir()
    write(other, "dev.tsv", "x\n")
    write(other, "readme.md", "x\n")
    with fails(
        f"{other}: no train file (train.tsv/.csv/.jsonl/.json/.conll/.txt); the folder holds: dev.tsv, readme.md"
    ):
        split_files(other, CLASSIFICATION)
    with fails(f"{tmp_path / 'missing'}: data folder not found"):
        split_files(tmp_path / "missing", CLASSIFICATION)
    (tmp_path / "empty").mkdir()
    with fails("the folder is empty"):
        split_files(tmp_path / "empty", CLASSIFICATION)


def test_split_files_given_a_file(tmp_path):
    path = write(tmp_path, "my-data.csv", "x\n")
    assert split_files(path, CLASSIFICATION) == {"train": path}


# ---------------------------------------------------------------------------------------------
# Hugging Face datasets, faked (no network)
# ---------------------------------------------------------------------------------------------


class ClassLabel:
    def __init__(self, *names: str):
        self.names = list(names)


class Sequence:
    def __init__(self, feature):
        self.feature = feature


class FakeSplit:
    def __init__(self, rows: list[dict], features: dict | None = None):
        self.rows, self.column_names, self.features = rows, list(rows[0]), features or {}

    def __iter__(self):
        return iter(self.rows)


@pytest.fixture
def hub(monkeypatch):
    """A fake ``datasets`` module serving the dict ``hub`` holds, keyed by load_dataset's args."""
    served: dict[tuple, dict] = {}

    def load_dataset(*args):
        if args not in served:
            raise FileNotFoundError(f"Dataset {args[0]} doesn't exist on the Hub")
        return served[args]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return served


def test_hub_glue_binary_keeps_digits_and_drops_test_labels(hub):
    features = {"label": ClassLabel("negative", "positive")}
    hub[("glue", "sst2")] = {
        "train": FakeSplit(
            [{"sentence": "good ", "label": 1, "idx": 0}, {"sentence": "bad", "label": 0, "idx": 1}], features
        ),
        "validation": FakeSplit([{"sentence": "ok", "label": 1, "idx": 0}], features),
        "test": FakeSplit([{"sentence": "?", "label": -1, "idx": 5}], features),
    }
    splits = load_hub_dataset("glue/sst2", GLUE["sst2"])
    assert set(splits) == {"train", "dev", "test"}
    assert splits["train"].path == Path("hf://glue/sst2/train")
    assert splits["train"].examples == [TextExample("0", ("good ",), "1", 1), TextExample("1", ("bad",), "0", 2)]
    assert splits["test"].examples == [TextExample("5", ("?",), None, 1)] and not splits["test"].labelled


def test_hub_mnli_names_and_matched_splits(hub):
    features = {"label": ClassLabel("entailment", "neutral", "contradiction")}
    row = {"premise": "p", "hypothesis": "h", "label": 2, "idx": 0}
    hub[("glue", "mnli")] = {
        name: FakeSplit([dict(row)], features)
        for name in ("train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched")
    }
    splits = load_hub_dataset("glue/mnli", GLUE["mnli"])
    assert splits["dev"].path == Path("hf://glue/mnli/validation_matched")
    assert splits["train"].examples[0] == TextExample("0", ("p", "h"), "contradiction", 1)


def test_hub_mrpc_falls_back_to_hub_column_names(hub):
    features = {"label": ClassLabel("not_equivalent", "equivalent")}
    hub[("glue", "mrpc")] = {"train": FakeSplit([{"sentence1": "a", "sentence2": "b", "label": 1, "idx": 0}], features)}
    assert load_hub_dataset("glue/mrpc", GLUE["mrpc"])["train"].examples == [TextExample("0", ("a", "b"), "1", 1)]


def test_hub_class_names_without_fixed_labels_and_regression(hub):
    hub[("imdb",)] = {
        "train": FakeSplit([{"text": "great", "label": 1}], {"label": ClassLabel("neg", "pos")}),
        "unsupervised": FakeSplit([{"text": "x", "label": -1}]),
    }
    splits = load_hub_dataset("imdb", CLASSIFICATION)
    assert set(splits) == {"train"} and splits["train"].examples[0].label == "pos"
    hub[("glue", "stsb")] = {"train": FakeSplit([{"sentence1": "a", "sentence2": "b", "label": 4.2, "idx": 0}])}
    assert load_hub_dataset("glue/stsb", GLUE["stsb"])["train"].examples[0].label == 4.2


def test_hub_tagging_and_qa(hub):
    hub[("conll2003",)] = {
        "train": FakeSplit(
            [{"id": "0", "tokens": ["EU", "rejects"], "pos_tags": [1, 2], "ner_tags": [1, 0]}],
            {"ner_tags": Sequence(ClassLabel("O", "B-ORG"))},
        )
    }
    assert load_hub_dataset("conll2003", TAGGING)["train"].examples == [
        TaggedExample("0", ("EU", "rejects"), ("B-ORG", "O"), 1)
    ]
    hub[("squad_v2",)] = {
        "validation": FakeSplit(
            [
                {
                    "id": "q1",
                    "title": "t",
                    "context": CONTEXT,
                    "question": "Where?",
                    "answers": {"text": ["Notre Dame"], "answer_start": [70]},
                },
                {
                    "id": "q2",
                    "title": "t",
                    "context": CONTEXT,
                    "question": "Who?",
                    "answers": {"text": [], "answer_start": []},
                },
            ]
        ),
        "train": FakeSplit(
            [
                {
                    "id": "q0",
                    "title": "t",
                    "context": "c",
                    "question": "?",
                    "answers": {"text": ["c"], "answer_start": [0]},
                }
            ]
        ),
    }
    dev = load_hub_dataset("squad_v2", QA)["dev"].examples
    assert dev[0].answers == (Answer("Notre Dame", 71),) and not dev[0].is_impossible
    assert dev[1].answers == () and dev[1].is_impossible


def test_hub_errors(hub):
    with fails("hub dataset 'nope' could not be loaded: Dataset nope doesn't exist"):
        load_hub_dataset("nope", CLASSIFICATION)
    hub[("only_test",)] = {"test": FakeSplit([{"text": "x", "label": 0}])}
    with fails("hub dataset 'only_test' has no train split (it has test)"):
        load_hub_dataset("only_test", CLASSIFICATION)
    hub[("odd",)] = {"train": FakeSplit([{"body": "x", "label": 0}])}
    with fails("no text column(s)"):
        load_hub_dataset("odd", CLASSIFICATION)


def test_hub_without_datasets_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with fails("pip install datasets (local data files never need it)"):
        load_hub_dataset("glue/sst2", GLUE["sst2"])
