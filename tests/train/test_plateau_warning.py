"""The warning that tells a slow discriminator from a collapsed one."""

from electra.objectives import ElectraObjective, MlmObjective


def plateau_warning(row: dict) -> str | None:
    health = ElectraObjective.health(row)
    return None if health is None else health.message


def row(ratio: float, recall: float) -> dict:
    baseline = 0.4
    return {
        "step": 2500,
        "disc_loss": ratio * baseline,
        "disc_baseline_loss": baseline,
        "disc_loss_ratio": ratio,
        "disc_recall": recall,
    }


def test_a_learning_discriminator_gets_no_warning():
    assert plateau_warning(row(0.9, 0.2)) is None


def test_a_plateau_is_reported_as_not_learned_yet():
    message = plateau_warning(row(0.985, 0.001))
    assert "not learned to detect replacements yet" in message
    assert "collapsed" not in message
    assert "0.985 x" in message


def test_a_constant_answer_is_reported_as_collapsed_with_a_remedy():
    message = plateau_warning(row(1.0, 0.0))
    assert "collapsed onto the constant answer" in message
    assert "--train.lr" in message


def test_exactly_at_baseline_but_still_catching_some_is_only_a_plateau():
    assert "collapsed" not in plateau_warning(row(0.999, 0.01))


def test_a_collapse_after_a_plateau_warning_is_still_reported(capsys):
    from types import SimpleNamespace

    from electra.train.loop import Trainer

    trainer = SimpleNamespace(
        step=2500, cfg=SimpleNamespace(plateau_warn_steps=2000), plateau_warned=None, objective=ElectraObjective
    )
    for ratio, recall in ((0.985, 0.001), (0.99, 0.0), (1.0, 0.0), (1.0, 0.0)):
        Trainer._warn_health(trainer, row(ratio, recall))
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 2
    assert "not learned" in warnings[0] and "collapsed" in warnings[1]


def test_an_objective_without_a_discriminator_is_never_warned_about_one(capsys):
    from types import SimpleNamespace

    from electra.train.loop import Trainer

    trainer = SimpleNamespace(
        step=2500, cfg=SimpleNamespace(plateau_warn_steps=2000), plateau_warned=None, objective=MlmObjective
    )
    Trainer._warn_health(trainer, {"step": 2500, "mlm_loss": 7.0, "gen_acc": 0.05})
    assert capsys.readouterr().err == ""
