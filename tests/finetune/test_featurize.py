"""Sub-word alignment for tagging, QA windows and targets, and the span search back to text."""

import numpy as np
import pytest

from electra.commands.demo import shipped_pair_path
from electra.finetune.examples import Answer, QaExample, TaggedExample, TextExample
from electra.finetune.featurize import IGNORE, collate, encode_qa, encode_tagged, encode_texts, window_starts
from electra.finetune.qa import best_span_in_window, best_spans
from electra.tokenizer import load_tokenizer, special_ids

TOK = load_tokenizer(shipped_pair_path() / "discriminator")
SPECIAL = special_ids(TOK)


def test_pairs_get_segment_ids_and_are_truncated():
    examples = [
        TextExample("0", ("a short one", "and its partner"), "yes", 2),
        TextExample("1", ("word " * 100, "other " * 100), "no", 3),
    ]
    features = encode_texts(examples, TOK, 32, {"no": 0, "yes": 1})
    first = features.input_ids[0]
    assert first[0] == SPECIAL.cls and first.count(SPECIAL.sep) == 2
    sep = first.index(SPECIAL.sep)
    assert features.token_type_ids[0] == [0] * (sep + 1) + [1] * (len(first) - sep - 1)
    assert len(features.input_ids[1]) == 32
    assert features.targets == [1, 0]


def test_tag_targets_sit_on_the_first_subtoken_of_each_word():
    words = ("Ishmael", "harpooned", "the", "whale")
    features = encode_tagged(
        [TaggedExample("0", words, ("B-PER", "O", "O", "B-ANI"), 1)], TOK, 64, {"O": 0, "B-PER": 1, "B-ANI": 2}
    )
    ids, starts, target = features.input_ids[0], features.word_starts[0], features.targets[0]
    assert len(ids) > len(words) + 2  # some word was split into several sub-tokens
    for word, pos in zip(words, starts):
        assert TOK.id_to_token(ids[pos]) == TOK.encode(word, add_special_tokens=False).tokens[0]
    assert [target[p] for p in starts] == [1, 0, 0, 2]
    assert sum(t != IGNORE for t in target) == len(words)


def test_words_cut_by_truncation_have_no_position():
    words = tuple(f"word{i}" for i in range(40))
    features = encode_tagged([TaggedExample("0", words, None, 1)], TOK, 16, {"O": 0})
    assert features.targets is None
    assert features.word_starts[0][0] == 1 and features.word_starts[0][-1] == -1


def test_window_starts_cover_the_context():
    assert window_starts(10, 20, 5) == [0]
    assert window_starts(50, 20, 10) == [0, 10, 20, 30]
    starts = window_starts(101, 30, 40)  # stride longer than the window: never skip tokens
    assert all(b - a <= 30 for a, b in zip(starts, starts[1:])) and starts[-1] + 30 >= 101


def qa_example(context: str, answer: str | None) -> QaExample:
    answers = () if answer is None else (Answer(answer, context.index(answer)),)
    return QaExample("q1", "who is the captain?", context, answers, answer is None, 1)


def test_qa_windows_point_at_the_answer_or_at_cls():
    context = " ".join(f"filler{i}" for i in range(60)) + " Captain Ahab commands the ship . " + "more " * 30
    features = encode_qa(
        [qa_example(context, "Captain Ahab")], TOK, SPECIAL, max_len=48, max_query=16, doc_stride=16, with_targets=True
    )
    assert len(features) > 3 and set(features.example_index) == {0}
    hits = [(i, t) for i, t in enumerate(features.targets) if t != (0, 0)]
    assert hits, "some window holds the answer"
    for window, (start, end) in hits:
        offsets = features.offsets[window]
        assert context[offsets[start][0] : offsets[end][1]] == "Captain Ahab"
        assert features.token_type_ids[window][start] == 1
    for ids in features.input_ids:
        assert len(ids) <= 48 and ids[0] == SPECIAL.cls and ids[-1] == SPECIAL.sep
    impossible = encode_qa([qa_example(context, None)], TOK, SPECIAL, 48, 16, 16, with_targets=True)
    assert set(impossible.targets) == {(0, 0)}


def test_span_search_recovers_the_text_and_respects_limits():
    context = "Call me Ishmael . Some years ago"
    features = encode_qa([qa_example(context, "Ishmael")], TOK, SPECIAL, 64, 16, 64, with_targets=True)
    start, end = features.targets[0]
    length = len(features.input_ids[0])
    logits = np.full((length, 2), -5.0, dtype=np.float32)
    logits[start, 0] = logits[end, 1] = 5.0
    logits[0] = (1.0, 1.0)  # [CLS]: a no-answer score of 2
    answers, margins = best_spans([qa_example(context, "Ishmael")], features, [logits], n_best=5, max_answer_length=30)
    assert answers == {"q1": "Ishmael"} and margins["q1"] == pytest.approx(2.0 - 10.0)
    # an end before the start or a span longer than the limit is never chosen
    logits[start, 0], logits[end, 1] = -5.0, -5.0
    logits[3, 0], logits[2, 1] = 9.0, 9.0  # end before start
    score, (first, last) = best_span_in_window(logits[:, 0], logits[:, 1], features.offsets[0], 5, 30)
    assert score < 18.0
    assert best_span_in_window(logits[:, 0], logits[:, 1], features.offsets[0], 5, 1)[0] <= 4.0


def test_collate_pads_inputs_and_token_targets():
    features = encode_tagged(
        [TaggedExample("0", ("a",), ("O",), 1), TaggedExample("1", ("a", "b", "c"), ("O",) * 3, 2)], TOK, 32, {"O": 0}
    )
    batch = collate(features, [0, 1], SPECIAL.pad)
    assert batch.input_ids.shape == batch.targets.shape == (2, 5)
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.targets[0, 3:].tolist() == [IGNORE, IGNORE]


def test_answers_are_widened_to_whole_words():
    from electra.finetune.qa import whole_words

    context = "The Rumford medal, in 1849 ."
    assert whole_words(context, context.index("Rum"), context.index("Rum") + 3) == "Rumford"
    assert whole_words(context, context.index("med"), context.index("med") + 2) == "medal,"
    assert whole_words(context, 0, 3) == "The"
    assert whole_words(context, context.index("1849"), len(context) - 2) == "1849"
