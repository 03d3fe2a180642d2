"""``electra glue``: fine-tune one model on every GLUE task of a download, report the paper's table.

Each task found under ``GLUE_DIR`` (the official download's folders: ``CoLA``, ``SST-2``, ``MRPC``,
``QQP``, ``STS-B``, ``MNLI``, ``QNLI``, ``RTE``; names matched ignoring case and punctuation) is an
ordinary ``electra finetune`` run into ``OUT/TASK`` (:func:`electra.finetune.run.finetune`), with
the settings ``finetune`` already defaults to, which are the paper's: 3 epochs (10 for RTE and
STS-B), batch 32, lr 3e-4 / 1e-4 / 5e-5 and layer decay 0.8 / 0.8 / 0.9 for Small-and-smaller /
Base / Large, max length 128. Fine-tuning options given here apply to every task.

Choices:

- The table's score of a task (:data:`PAPER_METRIC`) is the ELECTRA paper's: "Spearman
  correlation for STS, Matthews correlation for CoLA, and accuracy for the other GLUE tasks" (also
  for MRPC and QQP, whose leaderboard metric is F1; that one is kept in the results too). Each
  cell is the median dev score over the seeds, with its min-max.
- The average is the mean of those medians over the tasks run, the paper's "Avg." of its dev
  table when all eight are present (``complete``); a partial run's average is labelled with its
  task count, not comparable to the paper's.
- Each seed's score is that of its best dev epoch, by the task's leaderboard metric (what
  ``finetune`` keeps; the paper's code scores the last epoch): slightly optimistic, and so noted.
- MNLI is scored on ``dev_matched`` (the paper's MNLI column); ``dev_mismatched`` is not scored.
- WNLI is never run nor averaged, as in the ELECTRA and BERT papers (its dev set punishes any
  model that learns from train; the majority class is the best dev score). A WNLI folder is noted.
- Tasks run smallest first (:data:`TASKS`' order), so a short session finishes some tasks.
- A rerun with the same ``OUT`` skips every task whose ``OUT/TASK/results.json`` exists (a task cut
  short is redone whole); one finished with other seeds, model or settings is refused, not mixed.
  The table holds every task finished in ``OUT``, so ``--tasks rte`` then ``--tasks cola`` fill one.

Refused before any fine-tuning: a missing ``GLUE_DIR`` or one with no task folder, ``--tasks``
naming an unknown task or one whose folder is missing, a task folder without train and dev
files, an ``OUT`` holding anything but an earlier GLUE run.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from electra.config import FinetuneConfig, ModelConfig
from electra.errors import ElectraError
from electra.files import earlier_output, write_json, write_text_atomic
from electra.finetune.readers import split_files
from electra.finetune.run import FinetuneJob, differences, finetune, source_config
from electra.finetune.tasks import resolve_task
from electra.train import sinks

TASKS = {
    "rte": "RTE",
    "mrpc": "MRPC",
    "stsb": "STS-B",
    "cola": "CoLA",
    "sst2": "SST-2",
    "qnli": "QNLI",
    "qqp": "QQP",
    "mnli": "MNLI",
}
"""Task -> its folder in the official download, smallest training set first (the running order)."""

COLUMNS = {
    "cola": "CoLA",
    "sst2": "SST",
    "mrpc": "MRPC",
    "stsb": "STS",
    "qqp": "QQP",
    "mnli": "MNLI",
    "qnli": "QNLI",
    "rte": "RTE",
}
"""The paper's table columns, in its order."""

PAPER_METRIC = {"cola": "mcc", "stsb": "spearman"}
"""The score the paper reports per task; every other task: accuracy."""

EXCLUDED = {"wnli": "WNLI"}

AVERAGE_RULE = (
    "Avg. is the mean over the tasks run of each task's median dev score over seeds; a task's score "
    "is Matthews correlation for CoLA, Spearman correlation for STS-B and accuracy for every other "
    "task (SST-2, MRPC, QQP, MNLI-m, QNLI, RTE), as in the ELECTRA paper. WNLI is neither run nor "
    "averaged. The paper's Avg. covers all eight tasks; a run of fewer is not comparable to it."
)

RESULTS_NAMES = ("results.json", "report.md")


def paper_metric(task: str) -> str:
    return PAPER_METRIC.get(task, "accuracy")


@dataclass
class GlueJob:
    model: Path
    data: Path
    """The GLUE folder: one sub-folder per task, as the official download names them."""
    out: Path
    tasks: tuple[str, ...] | None = None
    """Task names (``cola``, ``sst2``/``SST-2``, ...); None: every task found in ``data``."""
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    init: str = "pretrained"
    settings: FinetuneConfig = field(default_factory=FinetuneConfig)


@dataclass(frozen=True)
class Plan:
    tasks: dict[str, Path]
    """Task -> its data folder, in running order."""
    notes: dict[str, str]
    """Task -> why it is not run (folder missing, WNLI)."""


# ---------------------------------------------------------------- finding the tasks


def task_key(name: str) -> str:
    """``SST-2``, ``sst_2``, ``Sst2`` -> ``sst2``: how folder and task names are matched."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_folders(data: Path) -> dict[str, Path]:
    """Task (GLUE or WNLI) -> its folder under ``data``; two folders for one task is an error."""
    if not data.is_dir():
        raise ElectraError(f"{data}: no such folder (give the GLUE folder holding CoLA/, SST-2/, ...)")
    known = {task_key(folder): task for task, folder in {**TASKS, **EXCLUDED}.items()}
    found: dict[str, Path] = {}
    for path in sorted(data.iterdir()):
        task = known.get(task_key(path.name))
        if task is None or not path.is_dir():
            continue
        if task in found:
            raise ElectraError(f"{data}: two folders for {task}: {found[task].name} and {path.name}")
        found[task] = path
    return found


def requested(names: tuple[str, ...]) -> list[str]:
    """``--tasks`` names (``sst2``, ``SST-2``, the paper's ``SST``, any case) -> tasks; unknown names and
    WNLI are errors."""
    known = {task_key(name): task for task, folder in TASKS.items() for name in (task, folder, COLUMNS[task])}
    tasks = []
    for name in names:
        key = task_key(name)
        if key in EXCLUDED:
            raise ElectraError(f"--tasks {name}: WNLI is not run (excluded from GLUE averages, as in the paper)")
        if key not in known:
            raise ElectraError(f"--tasks {name}: unknown task; choose from {', '.join(COLUMNS)}")
        tasks.append(known[key])
    return tasks


def plan(job: GlueJob) -> Plan:
    """The tasks to run and their folders, every one with its train and dev files found."""
    found = find_folders(Path(job.data))
    wanted = requested(job.tasks) if job.tasks else list(TASKS)
    missing = [t for t in COLUMNS if t in wanted and t not in found]
    if job.tasks and missing:
        raise ElectraError(
            f"{job.data}: no folder for {', '.join(TASKS[t] for t in missing)} (named in --tasks); "
            f"found {', '.join(p.name for p in found.values()) or 'no GLUE task folder'}"
        )
    tasks = {t: found[t] for t in TASKS if t in wanted and t in found}
    if not tasks:
        raise ElectraError(
            f"{job.data}: no GLUE task folder ({', '.join(TASKS.values())}, as the official download names them)"
        )
    for task, folder in tasks.items():
        if "dev" not in split_files(folder, resolve_task(task)):
            raise ElectraError(f"{folder}: no dev file (dev.tsv; MNLI: dev_matched.tsv): the table scores dev")
    notes = {t: f"no {TASKS[t]} folder in {job.data}" for t in missing}
    if "wnli" in found and not job.tasks:
        notes["wnli"] = "WNLI found, not run: excluded from GLUE averages as in the ELECTRA and BERT papers"
    return Plan(tasks, notes)


# ---------------------------------------------------------------- running


def finetune_job(job: GlueJob, task: str, folder: Path) -> FinetuneJob:
    return FinetuneJob(
        model=Path(job.model).resolve(),
        task=task,
        data=folder,
        out=Path(job.out) / task,
        seeds=list(job.seeds),
        init=job.init,
        settings=job.settings,
        overwrite=True,
    )


def check_out(job: GlueJob, cfg: ModelConfig) -> dict[str, dict]:
    """The results of every task finished in ``OUT`` (asked for now or not: one ``OUT``, one table);
    refused: an ``OUT`` holding other files, or a finished task run with other seeds, model, init
    or settings."""
    out = Path(job.out)
    earlier_output(
        out,
        lambda p: p.name.removesuffix(".tmp") in RESULTS_NAMES or (p.name in TASKS and p.is_dir()),
        "a GLUE run",
        overwrite=True,
    )  # finished tasks are kept, not replaced
    finished = {}
    for task in TASKS:
        path = out / task / "results.json"
        if not path.is_file():
            continue
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ElectraError(f"{path}: unreadable ({exc}); delete {out / task} to rerun the task") from exc
        wanted = finetune_job(job, task, Path(job.data) / TASKS[task])
        differ = differences(earlier, wanted, cfg)
        if earlier.get("model") != str(wanted.model):
            differ = {"model": (earlier.get("model"), str(wanted.model)), **differ}
        if differ:
            shown = "; ".join(f"{k} {then!r} there, {now!r} now" for k, (then, now) in list(differ.items())[:4])
            raise ElectraError(
                f"{out / task}: finished with other settings ({shown}); choose another --out or "
                f"delete {out / task} to rerun it (nothing was changed)"
            )
        finished[task] = earlier
    return finished


def run_glue(job: GlueJob, progress: bool = True) -> dict:
    """Fine-tune every planned task not finished earlier; write ``OUT/results.json`` and ``OUT/report.md``
    (after every task, so that a run cut short keeps its table)."""
    chosen = plan(job)
    for task in chosen.tasks:  # validates seeds and init before any work
        finetune_job(job, task, chosen.tasks[task])
    sinks.require(job.settings.loggers, "--loggers")
    finished = check_out(job, source_config(job.model))
    Path(job.out).mkdir(parents=True, exist_ok=True)
    runs = {task: result for task, result in finished.items() if task not in chosen.tasks}
    notes = {task: note for task, note in chosen.notes.items() if task not in finished}
    for task, folder in chosen.tasks.items():
        if task in finished:
            print(f"glue: {TASKS[task]} finished earlier ({Path(job.out) / task}), skipped", file=sys.stderr)
            runs[task] = finished[task]
        else:
            print(f"glue: {TASKS[task]} ({folder}), seeds {','.join(map(str, job.seeds))}", file=sys.stderr)
            runs[task] = finetune(finetune_job(job, task, folder), progress=progress)
        results = summarize(job, runs, notes)
        write_json(Path(job.out) / "results.json", results)
        write_text_atomic(Path(job.out) / "report.md", report(results))
    return results


# ---------------------------------------------------------------- results


def task_summary(task: str, result: dict) -> dict:
    """The paper's score of one task (median, min, max over seeds) and the leaderboard metric."""
    metric = paper_metric(task)
    runs = [run for run in result["per_seed"] if "dev" in run]
    if not runs:
        raise ElectraError(f"{TASKS[task]}: no dev scores (an unlabelled dev file?)")
    values = [run["dev"][metric] for run in runs]
    return {
        "folder": TASKS[task],
        "metric": metric,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "per_seed": values,
        "seeds": [run["seed"] for run in runs],
        "leaderboard_metric": result["main_metric"],
        "dev": result["dev"],
        "epochs": result["hyperparameters"]["epochs"],
        "lr": result["hyperparameters"]["lr"],
        "layer_decay": result["hyperparameters"]["layer_decay"],
        "batch_size": result["hyperparameters"]["batch_size"],
        "run": task,
    }


def summarize(job: GlueJob, runs: dict[str, dict], notes: dict[str, str]) -> dict:
    tasks = {task: task_summary(task, runs[task]) for task in COLUMNS if task in runs}
    medians = [entry["median"] for entry in tasks.values()]
    return {
        "model": str(Path(job.model).resolve()),
        "data": str(job.data),
        "seeds": list(job.seeds),
        "init": job.init,
        "tasks": tasks,
        "average": statistics.fmean(medians) if medians else None,
        "average_tasks": list(tasks),
        "complete": len(tasks) == len(COLUMNS),
        "average_rule": AVERAGE_RULE,
        "not_run": notes,
    }


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "–"
    if entry["min"] == entry["max"]:
        return f"{100 * entry['median']:.1f}"
    return f"{100 * entry['median']:.1f} ({100 * entry['min']:.1f}–{100 * entry['max']:.1f})"


def report(results: dict) -> str:
    """The paper's dev table (x100, median with min–max over seeds), the rule, the settings per task."""
    tasks = results["tasks"]
    average = "–" if results["average"] is None else f"{100 * results['average']:.1f}"
    if not results["complete"] and results["average"] is not None:
        average += f" ({len(tasks)} of {len(COLUMNS)} tasks)"
    lines = [
        f"# GLUE dev results: {results['model']}",
        "",
        f"Seeds {', '.join(map(str, results['seeds']))} (init: {results['init']}); data {results['data']}.",
        "",
        "| Model | " + " | ".join(COLUMNS.values()) + " | Avg. |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
        f"| {Path(results['model']).name} | " + " | ".join(_cell(tasks.get(t)) for t in COLUMNS) + f" | {average} |",
        "",
        "Each cell: the median dev score over seeds x100, with (min–max). Scores: CoLA Matthews correlation, "
        "STS Spearman correlation, accuracy elsewhere (MNLI: dev_matched). Each seed keeps its best dev epoch "
        "(by the leaderboard metric; the paper's code takes the last), which leans optimistic.",
        "",
        AVERAGE_RULE,
        "",
        "| task | score | median | min | max | leaderboard metric (median) | epochs | lr | layer decay | batch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _task, e in tasks.items():
        board = e["leaderboard_metric"]
        lines.append(
            f"| {e['folder']} | {e['metric']} | {e['median']:.4f} | {e['min']:.4f} | {e['max']:.4f} | "
            f"{board} {e['dev'][board]:.4f} | {e['epochs']:g} | {e['lr']:g} | {e['layer_decay']:g} | "
            f"{e['batch_size']} |"
        )
    if results["not_run"]:
        lines += ["", "Not run:", ""] + [f"- {note}" for note in results["not_run"].values()]
    lines += ["", "Each task's fine-tuning run (seed models, per-epoch history) is in its folder (`cola/`, ...)."]
    return "\n".join(lines) + "\n"
