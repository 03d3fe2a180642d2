"""What a pretraining corpus can teach a sentence task at the word level, by the cheapest route.

Logistic regression (scikit-learn) on a labelled sentence task, over the pieces of the prepared
folder's tokenizer, with these features:

- ``bow``: tf-idf of the pieces. The labels alone; no corpus.
- ``vectors:corpus``: the mean over the sentence's pieces of word vectors learnt from the prepared
  shards, computed as ``electra prepare --token-vectors`` computes them (``electra/data/vectors.py``:
  positive PMI over a +-4-piece window, then a truncated SVD to ``--dim`` dimensions), rows
  normalised. About half a CPU-minute for 16M pieces.
- ``vectors:task``: the same vectors learnt from the task's own training sentences (labels unused).
- ``vectors:gaussian``: random vectors of the same size, the control for the two above.
- ``bow+X``: tf-idf and vectors together.

For each training-set size (the first N training sentences) and feature set, the inverse
regularisation strength C is picked on dev; dev and test accuracy are printed. It bounds what
word-level knowledge of the corpus is worth on the task, against the labels alone, and puts the
fine-tuned networks' scores next to a linear model on the same pieces. Used in
docs/small-budgets.md::

    python benchmarks/corpus_ceiling.py PREPARED ../shared/data/tasks/sentiment --sizes 500,1000,2000,0

``PREPARED`` is an ``electra prepare`` output folder; ``0`` means the whole training set.
Prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from linear_probe import read_task
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from electra.data.loader import load_meta
from electra.data.vectors import compute_token_vectors, cooccurrence, positive_pmi, svd_vectors
from electra.tokenizer import load_tokenizer

C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def padded(ids: list[list[int]], width: int = 64) -> np.ndarray:
    """Sentences as one (N, width) block of ids, cut or padded with 0."""
    out = np.zeros((len(ids), width), dtype=np.int64)
    for row, sentence in enumerate(ids):
        out[row, : min(width, len(sentence))] = sentence[:width]
    return out


def bag(ids: list[list[int]], vocab: int) -> sp.csr_matrix:
    """(N, vocab) piece counts."""
    rows = [i for i, sentence in enumerate(ids) for _ in sentence]
    cols = [piece for sentence in ids for piece in sentence]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(ids), vocab))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)


def mean_vectors(counts: sp.csr_matrix, vectors: np.ndarray) -> np.ndarray:
    """(N, dim) mean of ``vectors``' rows over each sentence's pieces (zeros for an empty one)."""
    return np.asarray(counts @ vectors) / np.maximum(np.asarray(counts.sum(1)), 1.0)


def best_on_dev(train, y_train, dev, y_dev, test, y_test) -> dict:
    """Logistic regression at the C with the best dev accuracy: that C, its dev and test accuracy."""
    best = None
    for c in C_GRID:
        clf = LogisticRegression(max_iter=3000, C=c).fit(train, y_train)
        scores = (round(float(clf.score(dev, y_dev)), 4), round(float(clf.score(test, y_test)), 4))
        if best is None or scores[0] > best["dev"]:
            best = {"C": c, "dev": scores[0], "test": scores[1]}
    return best


def feature_sets(splits: list[sp.csr_matrix], tables: dict[str, np.ndarray]) -> dict[str, list]:
    """Every feature set of the docstring, as [train, dev, test] matrices."""
    tfidf = TfidfTransformer(sublinear_tf=True).fit(splits[0])
    bow = [tfidf.transform(counts) for counts in splits]
    sets = {"bow": bow}
    for name, vectors in tables.items():
        means = [mean_vectors(counts, vectors) for counts in splits]
        mu, sd = means[0].mean(0), means[0].std(0) + 1e-9
        means = [(m - mu) / sd for m in means]
        sets[f"vectors:{name}"] = means
        # scaled down so that the vectors do not swamp the unit-norm tf-idf rows at one C
        sets[f"bow+{name}"] = [sp.hstack([b, sp.csr_matrix(0.1 * m)]).tocsr() for b, m in zip(bow, means)]
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared", type=Path, help="an 'electra prepare' output folder (tokenizer and shards)")
    parser.add_argument("task", type=Path, help="folder with train.tsv, dev.tsv, test.tsv (columns sentence, label)")
    parser.add_argument("--sizes", default="0", help="training-set sizes, comma-separated; 0 = all")
    parser.add_argument("--dim", type=int, default=128, help="word-vector dimensions")
    args = parser.parse_args()
    meta = load_meta(args.prepared)
    vocab, special = meta["vocab_size"], meta["special_ids"].values()
    tokenizer = load_tokenizer(args.prepared / meta["tokenizer"])
    texts, labels = zip(*(read_task(args.task / f"{split}.tsv") for split in ("train", "dev", "test")))
    ids = [[e.ids for e in tokenizer.encode_batch(list(t), add_special_tokens=False)] for t in texts]
    tables = {
        "corpus": compute_token_vectors(args.prepared, meta, args.dim),
        "task": svd_vectors(positive_pmi(cooccurrence([padded(ids[0])], vocab, special)), args.dim),
        "gaussian": np.random.default_rng(0).normal(size=(vocab, args.dim)),
    }
    tables = {name: unit_rows(vectors) for name, vectors in tables.items()}
    dev_bag, test_bag = bag(ids[1], vocab), bag(ids[2], vocab)
    for size in (int(s) for s in args.sizes.split(",")):
        n = size or len(ids[0])
        splits = [bag(ids[0][:n], vocab), dev_bag, test_bag]
        ys = [labels[0][:n], labels[1], labels[2]]
        report = {
            name: best_on_dev(train, ys[0], dev, ys[1], test, ys[2])
            for name, (train, dev, test) in feature_sets(splits, tables).items()
        }
        print(json.dumps({"prepared": str(args.prepared), "train_sentences": n, **report}), flush=True)


if __name__ == "__main__":
    main()
