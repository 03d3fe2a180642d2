"""electra plot: PNGs from a real (short) run; bad metrics files are named."""

from __future__ import annotations

import json

import pytest

from electra import cli
from electra.pretrain import run_pretraining
from tests.helpers import job


@pytest.fixture(scope="module")
def short_run(prepared, tmp_path_factory):
    return run_pretraining(job("electra", 10), prepared, tmp_path_factory.mktemp("plotrun") / "run", progress=False)


def test_plot_writes_one_png_per_panel(short_run, capsys):
    assert cli.main(["plot", str(short_run)]) == 0
    written = capsys.readouterr().out.split()
    names = sorted(p.rsplit("/", 1)[-1] for p in written)
    assert names == ["accuracy.png", "discriminator.png", "losses.png", "replaced.png", "throughput.png"]
    for path in written:
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_metrics_are_named(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "metrics.jsonl" in capsys.readouterr().err
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 5, "loss": 1.0}) + "\nnot json\n")
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "metrics.jsonl:2" in capsys.readouterr().err
