"""Example packing: invariants over many seeded draws, segment and length statistics."""

import numpy as np
import pytest

from electra.data.packing import ExampleBuilder, _fit_pair
from electra.tokenizer import SpecialIds

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
DOC_STRIDE = 100_000


def make_documents(rng, count, max_lines=12, max_line_len=60):
    """Documents whose tokens are increasing and lie in disjoint ranges, one range per document."""
    documents = []
    for d in range(count):
        next_token = DOC_STRIDE * (d + 1)
        lines = []
        for _ in range(int(rng.integers(1, max_lines + 1))):
            length = int(rng.integers(1, max_line_len + 1))
            lines.append(list(range(next_token, next_token + length)))
            next_token += length
        documents.append(lines)
    return documents


def build(documents, seed=0, max_seq_len=64, short=0.05, single=0.1):
    builder = ExampleBuilder(max_seq_len, short, single, np.random.default_rng(seed), SPECIAL)
    return list(builder.examples(documents)), builder


def split_segments(example):
    seps = np.flatnonzero(example == SPECIAL.sep)
    first = example[1 : seps[0]]
    second = example[seps[0] + 1 : seps[1]] if len(seps) == 2 else example[:0]
    return seps, first, second


@pytest.mark.parametrize("seed", range(8))
def test_invariants(seed):
    rng = np.random.default_rng(100 + seed)
    documents = make_documents(rng, 60)
    examples, builder = build(documents, seed=seed, max_seq_len=int(rng.integers(8, 100)))
    max_len = builder.max_seq_len
    seen_docs = []
    for example in examples:
        assert example.dtype == np.int64 and 3 <= len(example) <= max_len
        assert example[0] == SPECIAL.cls and example[-1] == SPECIAL.sep
        seps, first, second = split_segments(example)
        assert len(seps) in (1, 2) and seps[-1] == len(example) - 1
        assert len(first) > 0 and (len(seps) == 1 or len(second) > 0)
        content = np.concatenate([first, second])
        assert not np.isin(content, [SPECIAL.cls, SPECIAL.sep, SPECIAL.pad]).any()
        doc = set(content // DOC_STRIDE)
        assert len(doc) == 1, "an example mixes documents"
        assert np.all(np.diff(first) > 0) and np.all(np.diff(second) > 0)
        if len(second):
            assert second[0] > first[-1], "B must follow A in the document"
        seen_docs.append(doc.pop())
    assert seen_docs == sorted(seen_docs), "documents come out in order"
    assert set(seen_docs) == set(range(1, 61)), "every document gives at least one example"


def test_without_truncation_every_token_is_kept_in_order():
    documents = make_documents(np.random.default_rng(5), 30, max_line_len=10)
    examples, builder = build(documents, max_seq_len=512, short=0.0)
    assert builder.truncated_tokens == 0
    kept = np.concatenate([np.concatenate(split_segments(e)[1:]) for e in examples])
    expected = np.concatenate([np.concatenate([np.asarray(line) for line in doc]) for doc in documents])
    np.testing.assert_array_equal(kept, expected)


def test_single_segment_share_is_close_to_the_probability():
    documents = make_documents(np.random.default_rng(1), 3000)
    examples, _ = build(documents, max_seq_len=64)
    single = np.mean([len(split_segments(e)[0]) == 1 for e in examples])
    assert len(examples) > 5000
    assert 0.08 < single < 0.12
    examples, _ = build(documents, max_seq_len=64, single=0.0)
    assert not any(len(split_segments(e)[0]) == 1 for e in examples if len(e) > 3)  # 1 token: no split


def test_short_targets_give_short_examples():
    one_long_document = [list(range(start, start + 20)) for start in range(DOC_STRIDE, DOC_STRIDE + 200_000, 20)]
    full_len = 128
    examples, _ = build([one_long_document], max_seq_len=full_len, short=0.05)
    short_share = np.mean([len(e) < full_len - 1 for e in examples])
    assert 0.03 < short_share < 0.07
    lengths = [len(e) for e in examples if len(e) < full_len - 1]
    assert min(lengths) <= 12  # targets reach down to 5
    examples, _ = build([one_long_document], max_seq_len=full_len, short=0.0)
    assert sum(len(e) < full_len - 1 for e in examples) <= 1  # only the final flush


def test_same_seed_same_examples():
    documents = make_documents(np.random.default_rng(2), 50)
    first, _ = build(documents, seed=7)
    again, _ = build(documents, seed=7)
    other, _ = build(documents, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again)) and len(first) == len(again)
    assert len(first) != len(other) or not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_long_lines_are_split_across_examples_without_losing_tokens():
    long_line = list(range(DOC_STRIDE, DOC_STRIDE + 500))
    examples, builder = build([[long_line]], max_seq_len=32, short=0.0, single=0.0)
    assert all(len(e) <= 32 for e in examples) and len(examples[0]) == 32
    seps, first, second = split_segments(examples[0])
    assert len(seps) == 2 and len(first) + len(second) == 29
    content = np.concatenate([np.concatenate(split_segments(e)[1:]) for e in examples])
    np.testing.assert_array_equal(content, long_line)  # every token kept, in order
    assert builder.truncated_tokens == 0


def test_one_token_document_is_single_segment():
    examples, _ = build([[[DOC_STRIDE]]], single=0.0)
    np.testing.assert_array_equal(examples[0], [SPECIAL.cls, DOC_STRIDE, SPECIAL.sep])


def test_fit_pair_cuts_the_longer_segment_first():
    assert _fit_pair(3, 4, 10) == (3, 4)
    assert _fit_pair(2, 50, 10) == (2, 8)
    assert _fit_pair(50, 3, 10) == (7, 3)
    assert _fit_pair(50, 50, 11) == (6, 5)
    for a in range(1, 30):
        for b in range(1, 30):
            keep_a, keep_b = _fit_pair(a, b, 13)
            assert 1 <= keep_a <= a and 1 <= keep_b <= b and keep_a + keep_b <= 13
