"""``electra plot RUN``: PNG training curves from a run's ``metrics.jsonl``.

One figure per question a user asks of a run: are the losses going down, is the discriminator
below its always-"original" baseline, are the networks getting better (generator accuracy,
discriminator accuracy / recall / precision), how hard is the task (replaced share), and how
fast is it going (tokens/s). Panels whose metrics a run lacks (an MLM run has no
discriminator) are left out. Needs matplotlib (``pip install -e '.[plot]'``).
"""

from __future__ import annotations

import json
from pathlib import Path

from electra.errors import ElectraError

PANELS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "losses": ("loss", [("loss", "total"), ("mlm_loss", "generator / MLM")]),
    "discriminator": ("loss", [("disc_loss", "discriminator"), ("disc_baseline_loss", "always-'original' baseline")]),
    "accuracy": (
        "share",
        [
            ("gen_acc", "generator accuracy ([MASK]ed)"),
            ("disc_acc", "discriminator accuracy"),
            ("disc_recall", "recall on replaced"),
            ("disc_precision", "precision on replaced"),
        ],
    ),
    "replaced": ("share of real tokens", [("replaced_share", "replaced by the generator")]),
    "throughput": ("tokens / s", [("tokens_per_s", "tokens per second")]),
}


def read_metrics(run: Path) -> list[dict]:
    """The rows of ``run/metrics.jsonl`` (timings joined from ``timings.jsonl`` when present)."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise ElectraError(f"{path}: no metrics file (is {run} a run folder of 'electra pretrain'?)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            int(row["step"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ElectraError(f"{path}:{number}: not a metrics row ({exc})") from exc
        rows.append(row)
    if not rows:
        raise ElectraError(f"{path}: no rows yet")
    timings = run / "timings.jsonl"
    if timings.is_file():
        by_step = {r["step"]: r for r in map(json.loads, timings.read_text(encoding="utf-8").splitlines())}
        rows = [{**by_step.get(r["step"], {}), **r} for r in rows]
    return rows


def plot_run(run: Path, out: Path | None = None) -> list[Path]:
    """Write one PNG per panel into ``out`` (default ``run/plots``); returns their paths."""
    plt = pyplot()
    rows = read_metrics(Path(run))
    out = Path(out) if out is not None else Path(run) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (ylabel, series) in PANELS.items():
        present = [(key, label) for key, label in series if any(r.get(key) is not None for r in rows)]
        if not present:
            continue
        fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
        for key, label in present:
            points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            style = "--" if key == "disc_baseline_loss" else "-"
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{Path(run).name}: {name}")
        written.append(save_figure(fig, [ax], out / f"{name}.png"))
    return written


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or a clear error when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ElectraError("plots need matplotlib: pip install -e '.[plot]'") from exc
    return plt


def save_figure(fig, axes: list, path: Path) -> Path:
    """Grid, legend, tight layout; write ``path`` and free the figure."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)
    return path
