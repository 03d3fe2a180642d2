"""Fine-tuning metrics: library agreement, hand-checked values and SQuAD 2.0 threshold tuning."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from electra.errors import ElectraError
from electra.finetune.metrics import (
    answer_exact,
    answer_f1,
    apply_null_threshold,
    best_null_threshold,
    classification_metrics,
    is_span_scheme,
    normalize_answer,
    regression_metrics,
    squad_metrics,
    tagging_metrics,
)

# --- classification and regression ------------------------------------------------------------


@pytest.mark.parametrize("size", [5, 40, 500])
@pytest.mark.parametrize("num_labels", [2, 3])
def test_classification_matches_sklearn(size, num_labels):
    rng = np.random.default_rng(1000 * size + num_labels)
    labels = rng.integers(0, num_labels, size).tolist()
    preds = rng.integers(0, num_labels, size).tolist()
    got = classification_metrics(labels, preds, num_labels)
    average = "binary" if num_labels == 2 else "macro"
    assert got == pytest.approx(
        {
            "accuracy": accuracy_score(labels, preds),
            "f1": f1_score(labels, preds, average=average, zero_division=0),
            "mcc": matthews_corrcoef(labels, preds),
        }
    )
    assert all(type(v) is float for v in got.values())


def test_classification_by_hand():
    # TP=1 FN=1 TN=2 FP=0: MCC = (1*2 - 0*1) / sqrt(1*2*2*3) = 1/sqrt(3).
    got = classification_metrics([1, 1, 0, 0], [1, 0, 0, 0], num_labels=2)
    assert got["accuracy"] == pytest.approx(3 / 4)
    assert got["f1"] == pytest.approx(2 / 3)  # class 1 (p=1, r=1/2); class 0 would give 0.8
    assert got["mcc"] == pytest.approx(1 / math.sqrt(3))


def test_classification_perfect_and_constant():
    assert classification_metrics([0, 1, 2], [0, 1, 2], 3) == {"accuracy": 1.0, "f1": 1.0, "mcc": 1.0}
    assert classification_metrics([0, 1, 1], [1, 1, 1], 2)["mcc"] == 0.0


def test_classification_rejects_bad_input():
    with pytest.raises(ElectraError, match="3 labels but 2 predictions"):
        classification_metrics([0, 1, 0], [0, 1], 2)
    with pytest.raises(ElectraError, match="outside the class range"):
        classification_metrics([0, 1, 2], [0, 1, 1], 2)


@pytest.mark.parametrize("size", [3, 50, 1000])
def test_regression_matches_scipy(size):
    rng = np.random.default_rng(size)
    labels = rng.uniform(0, 5, size)
    preds = labels + rng.normal(0, 1, size)
    got = regression_metrics(labels.tolist(), preds.tolist())
    assert got == pytest.approx(
        {
            "pearson": stats.pearsonr(labels, preds).statistic,
            "spearman": stats.spearmanr(labels, preds).statistic,
            "mse": float(np.mean((labels - preds) ** 2)),
        }
    )
    assert all(type(v) is float for v in got.values())


def test_regression_constant_prediction_gives_zero_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConstantInputWarning either
        got = regression_metrics([1.0, 2.0, 3.0, 4.0], [2.5, 2.5, 2.5, 2.5])
    assert got["pearson"] == 0.0 and got["spearman"] == 0.0
    assert got["mse"] == pytest.approx((1.5**2 + 0.5**2) * 2 / 4)


def test_regression_rejects_bad_input():
    with pytest.raises(ElectraError, match="2 labels but 3 predictions"):
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ElectraError, match="at least 2"):
        regression_metrics([1.0], [1.0])


# --- tagging ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags,expected",
    [
        (["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], "IOB2"),
        (["O", "I-MISC"], "IOB2"),
        (["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"], "IOBES"),
        (["O", "S-LOC"], "IOBES"),
        (["NN", "VB", "DT", "JJ"], None),
        (["O"], None),
        (["O", "B-PER", "NN"], None),
        (["O", "B-"], None),
        (["O", "X-PER"], None),
    ],
)
def test_is_span_scheme(tags, expected):
    assert is_span_scheme(tags) == expected
    assert is_span_scheme(iter(tags)) == expected


def test_tagging_iob2_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-MISC", "B-ORG"]]
    # gold entities PER LOC ORG; predicted PER(cut short) LOC MISC ORG; right: LOC, ORG.
    got = tagging_metrics(gold, pred, "IOB2")
    assert got == pytest.approx({"precision": 2 / 4, "recall": 2 / 3, "f1": 4 / 7, "accuracy": 4 / 6})


def test_tagging_iob2_is_conlleval_lenient():
    # conlleval reads a leading I- as the start of an entity, so this is a match.
    got = tagging_metrics([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]], "IOB2")
    assert got["f1"] == 1.0 and got["accuracy"] == pytest.approx(2 / 3)


def test_tagging_iobes_is_strict():
    gold = [["S-PER", "B-LOC", "E-LOC"]]
    pred = [["S-PER", "B-LOC", "I-LOC"]]  # B- without E- is no entity in strict IOBES
    got = tagging_metrics(gold, pred, "IOBES")
    assert got == pytest.approx({"precision": 1.0, "recall": 1 / 2, "f1": 2 / 3, "accuracy": 2 / 3})
    assert tagging_metrics(gold, pred, "IOB2")["f1"] == 1.0  # the lenient mode would accept it


def test_tagging_plain_labels_token_accuracy():
    gold = [["DT", "NN", "VB"], ["NN"], ["JJ", "NN"]]
    pred = [["DT", "NN", "NN"], ["NN"], ["NN", "NN"]]
    assert tagging_metrics(gold, pred, None) == {"accuracy": pytest.approx(4 / 6)}


def test_tagging_rejects_bad_input():
    with pytest.raises(ElectraError, match="sentence 1 has 2 gold tags but 1 predicted"):
        tagging_metrics([["O"], ["O", "O"]], [["O"], ["O"]], None)
    with pytest.raises(ElectraError, match="2 gold sentences but 1 predicted"):
        tagging_metrics([["O"], ["O"]], [["O"]], "IOB2")
    with pytest.raises(ElectraError, match="unknown tagging scheme"):
        tagging_metrics([["O"]], [["O"]], "BILOU")


# --- SQuAD answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("eiffel tower!", "eiffel tower"),
        ("  An apple,\ta   day ", "apple day"),
        ("theatre and anthem", "theatre and anthem"),  # articles only as whole words
        ("U.S.A.", "usa"),
        ("", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_answer_exact():
    assert answer_exact("eiffel tower!", ["The Eiffel Tower"]) == 1.0
    assert answer_exact("Eiffel  Tower", ["Paris", "the eiffel tower."]) == 1.0  # best gold
    assert answer_exact("Eiffel", ["The Eiffel Tower"]) == 0.0


def test_answer_f1_partial_overlap_by_hand():
    # [big, red, dog] vs [red, dog, barked]: p = r = 2/3.
    assert answer_f1("the big red dog", ["red dog barked"]) == pytest.approx(2 / 3)
    # [red] vs [red, dog]: p=1 r=1/2 -> 2/3; [red] vs [red, red, dog]: p=1 r=1/3 -> 1/2.
    assert answer_f1("red", ["red red dog", "red dog"]) == pytest.approx(2 / 3)
    # counts are clipped: [red, red] vs [red, dog] shares one token -> p = r = 1/2.
    assert answer_f1("red red", ["red dog"]) == pytest.approx(1 / 2)
    assert answer_f1("blue cat", ["red dog"]) == 0.0


def test_no_answer_rules():
    assert answer_exact("", []) == 1.0 and answer_f1("", []) == 1.0
    assert answer_exact("the", []) == 1.0  # normalises to nothing
    assert answer_exact("Paris", []) == 0.0 and answer_f1("Paris", []) == 0.0
    assert answer_exact("", ["Paris"]) == 0.0 and answer_f1("", ["Paris"]) == 0.0


def test_squad_metrics_with_splits():
    golds = {"q1": ["Paris"], "q2": ["red dog barked"], "q3": [], "q4": []}
    preds = {"q1": "paris", "q2": "the big red dog", "q3": "", "q4": "Lyon", "extra": "ignored"}
    got = squad_metrics(preds, golds)
    assert got == pytest.approx(
        {
            "exact": 2 / 4,
            "f1": (1 + 2 / 3 + 1 + 0) / 4,
            "total": 4.0,
            "has_ans_exact": 1 / 2,
            "has_ans_f1": (1 + 2 / 3) / 2,
            "has_ans_total": 2.0,
            "no_ans_exact": 1 / 2,
            "no_ans_f1": 1 / 2,
            "no_ans_total": 2.0,
        }
    )
    assert all(type(v) is float for v in got.values())


def test_squad_metrics_without_unanswerable_has_no_split_for_it():
    got = squad_metrics({"a": "x"}, {"a": ["x"]})
    assert got == {"exact": 1.0, "f1": 1.0, "total": 1.0, "has_ans_exact": 1.0, "has_ans_f1": 1.0, "has_ans_total": 1.0}


def test_squad_metrics_missing_question():
    with pytest.raises(ElectraError, match="'q2'"):
        squad_metrics({"q1": "x"}, {"q1": ["x"], "q2": ["y"]})


# --- SQuAD 2.0 no-answer threshold --------------------------------------------------------------

# Sorted by margin: q2 (3.0, unanswerable), q4 (2.0, unanswerable), q3 (1.0, F1 2/3), q1 (-2.0, right).
# Total F1 by threshold: 3.0 -> 5/3, 2.0 -> 8/3, 1.0 -> 11/3 (best), -2.0 -> 3, -inf -> 2.
GOLDS = {"q1": ["Paris"], "q2": [], "q3": ["red dog barked"], "q4": []}
PREDS = {"q1": "Paris", "q2": "Lyon", "q3": "the big red dog", "q4": "Nice"}
MARGINS = {"q1": -2.0, "q2": 3.0, "q3": 1.0, "q4": 2.0}


def test_best_null_threshold_inside_the_range():
    threshold, f1, exact = best_null_threshold(PREDS, MARGINS, GOLDS)
    assert threshold == 1.0
    assert f1 == pytest.approx(11 / 12)
    assert exact == pytest.approx(3 / 4)  # q1, q2, q4 exact; q3 partial


def test_apply_null_threshold_agrees_with_best():
    threshold, f1, exact = best_null_threshold(PREDS, MARGINS, GOLDS)
    answers = apply_null_threshold(PREDS, MARGINS, threshold)
    assert answers == {"q1": "Paris", "q2": "", "q3": "the big red dog", "q4": ""}
    scores = squad_metrics(answers, GOLDS)
    assert (scores["f1"], scores["exact"]) == pytest.approx((f1, exact))


def test_best_null_threshold_never_null():
    golds = {"a": ["x"], "b": ["y"], "c": []}
    preds = {"a": "x", "b": "y", "c": ""}  # already right; nulling a or b only hurts
    assert best_null_threshold(preds, {"a": 0.5, "b": -1.0, "c": 0.2}, golds) == (0.5, 1.0, 1.0)


def test_best_null_threshold_always_null():
    golds = {"a": [], "b": []}
    assert best_null_threshold({"a": "x", "b": "y"}, {"a": 0.5, "b": -1.0}, golds) == (-math.inf, 1.0, 1.0)
    assert apply_null_threshold({"a": "x", "b": "y"}, {"a": 0.5, "b": -1.0}, -math.inf) == {"a": "", "b": ""}


def test_best_null_threshold_ties_keep_the_first_reached():
    # Nulling "a" (wrong anyway) changes nothing, so the sweep keeps the larger threshold.
    golds = {"a": ["x"], "b": ["z"]}
    assert best_null_threshold({"a": "y", "b": "z"}, {"a": 5.0, "b": 1.0}, golds) == (5.0, 0.5, 0.5)


def test_best_null_threshold_cannot_split_equal_margins():
    golds = {"a": [], "b": ["z"]}
    threshold, f1, _ = best_null_threshold({"a": "x", "b": "z"}, {"a": 1.0, "b": 1.0}, golds)
    assert (threshold, f1) == (1.0, 0.5)


@pytest.mark.parametrize("seed", range(5))
def test_best_null_threshold_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    words = ["red", "dog", "cat", "big", "runs"]
    golds, preds, margins = {}, {}, {}
    for i in range(30):
        qid = f"q{i}"
        golds[qid] = [] if rng.random() < 0.4 else [" ".join(rng.choice(words, 2))]
        preds[qid] = " ".join(rng.choice(words, int(rng.integers(1, 4))))
        margins[qid] = float(rng.integers(-5, 6))  # repeated values on purpose
    candidates = sorted(set(margins.values()) | {-math.inf}, reverse=True)
    f1_at = {t: squad_metrics(apply_null_threshold(preds, margins, t), golds)["f1"] for t in candidates}
    best_f1 = max(f1_at.values())
    expected = next(t for t in candidates if f1_at[t] >= best_f1 - 1e-9)
    threshold, f1, exact = best_null_threshold(preds, margins, golds)
    assert threshold == expected and f1 == pytest.approx(best_f1)
    assert exact == pytest.approx(squad_metrics(apply_null_threshold(preds, margins, threshold), golds)["exact"])


def test_best_null_threshold_missing_margin():
    with pytest.raises(ElectraError, match="null margins miss 1 question id"):
        best_null_threshold(PREDS, {k: v for k, v in MARGINS.items() if k != "q3"}, GOLDS)
