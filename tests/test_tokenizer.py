"""Tokenizer: training, special ids, save/load round trips, vocab.txt, HF parity, errors."""

import gzip
from pathlib import Path

import pytest

from electra.errors import ElectraError
from electra.tokenizer import SpecialIds, load_tokenizer, save_tokenizer, special_ids, train_wordpiece

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
TEXTS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune.",
    "Héllo WORLD, naïve café résumé!",
    "Call me Ishmael. Some years ago—never mind how long precisely",
    "中文 text and ünïcödé, [MASK] tokens, tabs\tand  spaces",
    "",
]


@pytest.fixture(scope="module")
def tok():
    def read():
        with gzip.open(FIXTURES / "austen_sample.txt.gz", "rt", encoding="utf-8") as handle:
            yield from (line for line in handle if line.strip())

    return train_wordpiece(read, vocab_size=2000)


def test_trained_vocabulary_has_specials_first(tok):
    assert special_ids(tok) == SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    assert 1000 < tok.get_vocab_size() <= 2000
    assert any(token.startswith("##") for token in tok.get_vocab())


def test_training_is_reproducible():
    """HF's trainer alone gives another vocabulary on every call (hash-map order); ours does not."""

    def read():
        with gzip.open(FIXTURES / "mobydick_sample.txt.gz", "rt", encoding="utf-8") as handle:
            yield from (line for line in handle if line.strip())

    runs = [train_wordpiece(read, vocab_size=800, limit_alphabet=limit) for limit in (1000, 1000, 30, 30)]
    assert runs[0].to_str() == runs[1].to_str() and runs[2].to_str() == runs[3].to_str()
    assert runs[0].get_vocab_size() == runs[2].get_vocab_size() == 800


def test_alphabet_keeps_the_most_frequent_characters_ties_by_code_point():
    texts = ["zz yy xx ww", "vv", "a-b 中"]  # z, y, x, w, v twice; a, b, -, 中 once
    tok = train_wordpiece(lambda: iter(texts), vocab_size=100, limit_alphabet=6)
    vocab = tok.get_vocab()
    assert {"v", "w", "x", "y", "z", "-"} <= set(vocab)  # "-" (U+002D) wins the tie against a, b, 中
    assert not {"a", "b", "中"} & set(vocab)
    assert "##z" in vocab and "##-" not in vocab  # punctuation never continues a word
    assert [t for t, _ in sorted(vocab.items(), key=lambda item: item[1])][:11] == [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "-",
        "v",
        "w",
        "x",
        "y",
        "z",
    ]


def test_encoding_is_uncased_and_adds_specials_only_when_asked(tok):
    with_specials = tok.encode("Mr. Darcy", "Elizabeth")
    assert with_specials.tokens[0] == "[CLS]" and with_specials.tokens[-1] == "[SEP]"
    assert with_specials.tokens.count("[SEP]") == 2
    assert with_specials.type_ids[-1] == 1 and with_specials.type_ids[0] == 0
    plain = tok.encode("MR. DARCY", add_special_tokens=False)
    assert plain.ids == tok.encode("mr. darcy", add_special_tokens=False).ids
    assert "[CLS]" not in plain.tokens and "[SEP]" not in plain.tokens
    assert tok.decode(plain.ids) == "mr. darcy"


def test_save_and_load_round_trip(tok, tmp_path):
    save_tokenizer(tok, tmp_path)
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        assert (tmp_path / name).is_file()
    vocab_lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab_lines) == tok.get_vocab_size()
    assert vocab_lines[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    from_json = load_tokenizer(tmp_path / "tokenizer.json")
    from_folder = load_tokenizer(tmp_path)
    from_vocab = load_tokenizer(tmp_path / "vocab.txt")
    for text in TEXTS:
        expected = tok.encode(text).ids
        assert from_json.encode(text).ids == expected
        assert from_folder.encode(text).ids == expected
        assert from_vocab.encode(text).ids == expected, text
    assert from_vocab.encode(TEXTS[0], TEXTS[1]).type_ids == tok.encode(TEXTS[0], TEXTS[1]).type_ids


def test_folder_with_only_vocab_txt(tok, tmp_path):
    save_tokenizer(tok, tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    assert load_tokenizer(tmp_path).encode(TEXTS[1]).ids == tok.encode(TEXTS[1]).ids


def test_bert_style_vocab_keeps_its_own_ids(tmp_path):
    tokens = (
        ["[PAD]"]
        + [f"[unused{i}]" for i in range(99)]
        + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat", "."]
    )
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    tok = load_tokenizer(tmp_path / "vocab.txt")
    assert special_ids(tok) == SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)
    assert tok.encode("The cats sat.").ids == [101, 104, 105, 106, 107, 108, 102]
    assert tok.encode("dog", add_special_tokens=False).ids == [100]


def test_hf_auto_tokenizer_parity(tok, tmp_path):
    transformers = pytest.importorskip("transformers")
    save_tokenizer(tok, tmp_path)
    hf = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert hf.model_max_length == 512
    assert hf("MR. DARCY")["input_ids"] == hf("mr. darcy")["input_ids"]
    for text in TEXTS:
        assert hf(text)["input_ids"] == tok.encode(text).ids, text
    pair = hf(TEXTS[0], TEXTS[2])
    ours = tok.encode(TEXTS[0], TEXTS[2])
    assert pair["input_ids"] == ours.ids
    assert pair["token_type_ids"] == ours.type_ids
    assert hf.pad_token_id == 0 and hf.mask_token_id == 4


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ElectraError, match="not found"):
        load_tokenizer(tmp_path / "nope.json")
    with pytest.raises(ElectraError, match="neither tokenizer.json nor vocab.txt"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ElectraError, match="tokenizer.json"):
        load_tokenizer(tmp_path / "tokenizer.json")
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(ElectraError, match="vocab.txt"):
        load_tokenizer(tmp_path / "vocab.txt")


def test_vocab_txt_problems_name_the_line(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n", encoding="utf-8")
    with pytest.raises(ElectraError, match=r"vocab\.txt.*\[MASK\]"):
        load_tokenizer(path)
    path.write_text("[PAD]\n[UNK]\nthe\nthe\n", encoding="utf-8")
    with pytest.raises(ElectraError, match=r"vocab\.txt:4"):
        load_tokenizer(path)
