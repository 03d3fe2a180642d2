"""``electra compare``: ELECTRA against MLM at equal pretraining compute, on the user's data and task.

1. Pretrain each arm (an objective of ``electra.objectives``: by default ``electra`` and ``mlm``;
   the paper's ablations ``electra15``, ``replace-mlm`` and ``all-tokens-mlm`` too) with the same encoder size on
   the same data for the same budget: model FLOPs of both networks (``electra.flops``, default)
   or wall-clock minutes. Snapshots of the networks are kept at each budget fraction
   (``OUT/pretrain/ARM/snapshots/FRACTION``).
2. Fine-tune every snapshot's encoder (the objective's ``encoder`` network) on the task
   with every seed, and the same architecture from random initialisation; when the recipe starts
   the token table from the data's token vectors (``recipe.token_vectors``), also from fresh
   weights with those vectors placed ("data-initialised, not pretrained": what pretraining must
   beat besides random initialisation).
3. Write ``OUT/results.json`` (per arm and fraction: FLOPs, per-seed and median scores),
   ``OUT/report.md`` (the table, the pretraining state of each arm, the verdict and the commands
   that reproduce each number) and PNG plots: score against pretraining FLOPs, and the
   pretraining curves.

A rerun with the same ``--out`` skips what is finished (a pretraining whose final models exist,
a fine-tuning whose ``results.json`` exists).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from electra.commands.plot import pyplot, save_figure
from electra.config import DTYPES, INIT_SCHEMES, SHARING, FinetuneConfig, Preset, preset
from electra.data.loader import PretrainData, load_meta
from electra.errors import ElectraError
from electra.files import write_json, write_text_atomic
from electra.finetune.run import FinetuneJob, differences, finetune, source_config
from electra.objectives import NETWORK_FOLDERS, OBJECTIVES, objective_class
from electra.objectives.pieces import PLATEAU_TOLERANCE
from electra.pretrain import PretrainJob, data_job, flops_counter, run_pretraining
from electra.train.optim import mean_step_flops, steps_for_flops

DATA_INIT = "data-initialised, not pretrained"
"""The baseline of a recipe whose start uses the data: fresh weights with the token vectors placed."""

EARLY_ESCAPE_RECALL = 0.25
"""Below this recall on replaced tokens a discriminator off its plateau is reported as barely off it."""


@dataclass
class CompareJob:
    data: Path
    """A folder written by ``electra prepare``."""
    task_data: Path | str
    task: str
    out: Path
    preset: str = "tiny"
    budget: float = 1e15
    """Per arm: model FLOPs (``unit='flops'``) or minutes (``unit='minutes'``)."""
    unit: str = "flops"
    fractions: tuple[float, ...] = (0.25, 0.5, 1.0)
    arms: tuple[str, ...] = ("electra", "mlm")
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    device: str = "auto"
    seed: int = 1234
    init_scheme: str | None = None
    """Starting weights of every arm and of the random-initialisation baseline
    (``ModelConfig.init_scheme``); None: the preset's."""
    generator_fraction: float | None = None
    """ELECTRA arms: generator width as a fraction of the discriminator's; None: the preset's."""
    generator_layers: int | None = None
    """ELECTRA arms: generator depth; None: the preset's."""
    embedding_norm_cap: float | None = None
    """Every arm: ``recipe.embedding_norm_cap`` (token-table rows capped at this norm); None: the
    preset's; 0: no cap, whatever the preset says."""
    embedding_sharing: str | None = None
    """ELECTRA arms: ``recipe.embedding_sharing`` ('es', 'gdes', 'none'); None: the preset's."""
    dtype: str = "fp32"
    """Pretraining autocast dtype of both arms (fine-tuning stays fp32); a FLOPs budget counts the same
    model FLOPs either way, so bf16 only makes them cheaper."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ElectraError(f"invalid --dtype {self.dtype!r}: use {' or '.join(DTYPES)}")
        if self.init_scheme is not None and self.init_scheme not in INIT_SCHEMES:
            raise ElectraError(f"invalid --init-scheme {self.init_scheme!r}: use {' or '.join(INIT_SCHEMES)}")
        if self.embedding_sharing not in (None, *SHARING):
            raise ElectraError(f"invalid --embedding-sharing {self.embedding_sharing!r}: use {', '.join(SHARING)}")
        if self.unit not in ("flops", "minutes"):
            raise ElectraError(f"invalid --budget-unit {self.unit!r}: use flops or minutes")
        if not self.budget > 0 or not math.isfinite(self.budget):
            raise ElectraError(f"invalid --budget {self.budget!r}: must be a positive number")
        if not self.fractions or any(not 0 < f <= 1 for f in self.fractions) or max(self.fractions) != 1.0:
            raise ElectraError(f"invalid --fractions {self.fractions!r}: values in (0, 1], ending with 1")
        unknown = [a for a in self.arms if a not in OBJECTIVES]
        if unknown or not self.arms:
            raise ElectraError(f"invalid --arms {','.join(self.arms)}: choose from {', '.join(OBJECTIVES)}")
        preset(self.preset)


def run_compare(job: CompareJob, progress: bool = True) -> dict:
    meta = load_meta(job.data)
    runs = {arm: pretrain_arm(job, arm, meta, progress) for arm in job.arms}
    scores = {
        arm: {
            name: finetune_snapshot(
                job, snapshot / objective_class(arm).encoder, f"{arm}/{name}", "pretrained", progress
            )
            for name, snapshot in snapshots_of(run, job).items()
        }
        for arm, run in runs.items()
    }
    first = job.arms[0]
    model = snapshots_of(runs[first], job)[fraction_name(1.0)] / objective_class(first).encoder
    random_init = finetune_snapshot(job, model, "random", "random", progress)
    data_init = None
    if job_preset(job).objective.token_vectors:
        data_init = finetune_snapshot(job, model, "data-init", "data", progress)
    results = collect(job, runs, scores, random_init, data_init)
    write_json(job.out / "results.json", results)
    plots = write_plots(job, results, runs)
    write_text_atomic(job.out / "report.md", report(job, results, plots))
    return results


# ---------------------------------------------------------------- pretraining


def fraction_name(fraction: float) -> str:
    return f"{fraction:g}"


def job_preset(job: CompareJob) -> Preset:
    """The preset with the job's overrides: a ``None`` keeps the preset's value; a cap of 0 removes it."""
    chosen = preset(job.preset)
    objective = chosen.objective
    cap = objective.embedding_norm_cap if job.embedding_norm_cap is None else job.embedding_norm_cap or None
    layers = objective.generator_layers if job.generator_layers is None else job.generator_layers
    return dataclasses.replace(
        chosen,
        model=dataclasses.replace(chosen.model, init_scheme=job.init_scheme or chosen.model.init_scheme),
        objective=dataclasses.replace(
            objective,
            generator_fraction=job.generator_fraction or objective.generator_fraction,
            generator_layers=layers,
            embedding_norm_cap=cap,
            embedding_sharing=job.embedding_sharing or objective.embedding_sharing,
        ),
    )


def arm_job(job: CompareJob, arm: str, meta: dict) -> PretrainJob:
    """The preset's recipe for ``arm``. The trainer's schedule follows whichever budget ends the run
    first, so the budget must be that one: with FLOPs, ``max_steps`` is set just above the steps
    the budget is expected to take (and the warm-up kept to a tenth of them); with minutes, the
    preset's ``max_steps`` is far beyond what a compare budget reaches."""
    chosen = job_preset(job)
    model, recipe = chosen.model, chosen.objective
    train = dataclasses.replace(chosen.train, device=job.device, seed=job.seed, dtype=job.dtype, save_every=10**9)
    base = data_job(PretrainJob(arm, model, recipe, train), meta)
    if job.unit == "minutes":
        train = dataclasses.replace(train, max_minutes=job.budget)
    else:
        step_flops = mean_step_flops(PretrainData(job.data), train.batch_size, train.seed, flops_counter(base))
        steps = steps_for_flops(job.budget, step_flops)
        train = dataclasses.replace(
            train, max_flops=job.budget, max_steps=steps, warmup_steps=min(train.warmup_steps, max(1, steps // 10))
        )
    return dataclasses.replace(base, train=train)


def pretrain_arm(job: CompareJob, arm: str, meta: dict, progress: bool) -> Path:
    run = job.out / "pretrain" / arm
    final = run / objective_class(arm).encoder
    if final.is_dir() and (run / "snapshots" / fraction_name(1.0)).is_dir():
        print(f"compare: {arm} pretraining already done ({run})", file=sys.stderr)
        return run
    the_job = arm_job(job, arm, meta)
    print(f"compare: pretraining {arm} ({job.budget:g} {job.unit})", file=sys.stderr)
    snapshots = None
    if job.unit == "flops":
        snapshots = {fraction_name(f): f * job.budget for f in job.fractions}
    run_pretraining(
        the_job, job.data, run, resume=(run / "checkpoints").is_dir(), progress=progress, snapshots=snapshots
    )
    full = run / "snapshots" / fraction_name(1.0)
    if not full.is_dir():  # a minutes budget, or the schedule ended just short of the FLOPs: the final models
        _copy_models(run, full)
    return run


def _copy_models(run: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in NETWORK_FOLDERS:
        if (run / name).is_dir():
            shutil.copytree(run / name, folder / name, dirs_exist_ok=True)
    rows = read_rows(run)
    write_json(
        folder / "snapshot.json",
        {"step": rows[-1]["step"] if rows else 0, "flops": rows[-1].get("flops") if rows else None},
    )


def snapshots_of(run: Path, job: CompareJob) -> dict[str, Path]:
    """Fraction name -> snapshot folder; with a minutes budget only the final one exists."""
    fractions = job.fractions if job.unit == "flops" else (1.0,)
    found = {fraction_name(f): run / "snapshots" / fraction_name(f) for f in fractions}
    missing = [str(p) for p in found.values() if not p.is_dir()]
    if missing:
        raise ElectraError(
            f"snapshots missing after pretraining: {', '.join(missing)} (budget too small "
            f"for even one step per fraction?)"
        )
    return found


def read_rows(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- fine-tuning


def finetune_snapshot(job: CompareJob, model: Path, name: str, init: str, progress: bool) -> dict:
    out = job.out / "finetune" / name
    wanted = FinetuneJob(
        model=model,
        task=job.task,
        data=job.task_data,
        out=out,
        seeds=job.seeds,
        init=init,
        settings=dataclasses.replace(job.finetune, device=job.device),
        overwrite=True,
        token_vectors=job.data if init == "data" else None,
    )
    if (out / "results.json").is_file():
        earlier = json.loads((out / "results.json").read_text(encoding="utf-8"))
        if not differences(earlier, wanted, source_config(model)):
            return earlier
        print(f"compare: {name} was fine-tuned with other seeds or settings; fine-tuning it again", file=sys.stderr)
    print(f"compare: fine-tuning {name} on {job.task} ({len(job.seeds)} seeds)", file=sys.stderr)
    return finetune(wanted, progress=progress)


# ---------------------------------------------------------------- results


def _split_scores(result: dict, metric: str) -> dict:
    """Median, spread and per-seed values of ``metric`` on test (dev when there is no test)."""
    split = "test" if "test" in result else "dev"
    values = [run[split][metric] for run in result["per_seed"] if split in run]
    return {
        "split": split,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "per_seed": values,
    }


def collect(
    job: CompareJob, runs: dict[str, Path], scores: dict, random_init: dict, data_init: dict | None = None
) -> dict:
    metric = random_init["main_metric"]
    arms = {}
    for arm, by_fraction in scores.items():
        arms[arm] = {}
        for name, result in by_fraction.items():
            snapshot = json.loads((runs[arm] / "snapshots" / name / "snapshot.json").read_text(encoding="utf-8"))
            arms[arm][name] = {
                "flops": snapshot.get("flops"),
                "step": snapshot.get("step"),
                "checkpoint": str(runs[arm] / "snapshots" / name),
                **_split_scores(result, metric),
            }
        arms[arm]["pretraining"] = pretraining_state(runs[arm])
    trivial = random_init.get("baseline", {})
    split = "test" if "test" in trivial else "dev"
    chosen = job_preset(job)
    return {
        "task": job.task,
        "task_data": str(job.task_data),
        "metric": metric,
        "budget": job.budget,
        "unit": job.unit,
        "preset": job.preset,
        "dtype": job.dtype,
        "init_scheme": chosen.model.init_scheme,
        "generator_fraction": chosen.objective.generator_fraction,
        "generator_layers": chosen.objective.generator_layers,
        "embedding_norm_cap": chosen.objective.embedding_norm_cap,
        "embedding_sharing": chosen.objective.embedding_sharing,
        "token_vectors": chosen.objective.token_vectors,
        "freeze_token_table": chosen.objective.freeze_token_table,
        "seeds": job.seeds,
        "arms": arms,
        "random_init": _split_scores(random_init, metric),
        "data_init": None if data_init is None else _split_scores(data_init, metric),
        "trivial": {"predictor": trivial.get("predictor"), "score": trivial.get(split, {}).get(metric)},
    }


def pretraining_state(run: Path) -> dict:
    """The last metrics row's headline numbers (is the discriminator past its plateau?)."""
    rows = read_rows(run)
    if not rows:
        return {}
    last = rows[-1]
    keys = (
        "step",
        "flops",
        "loss",
        "mlm_loss",
        "gen_acc",
        "main_loss",
        "main_acc",
        "disc_loss",
        "disc_baseline_loss",
        "disc_loss_ratio",
        "disc_recall",
    )
    return {k: last[k] for k in keys if k in last}


# ---------------------------------------------------------------- report


def write_plots(job: CompareJob, results: dict, runs: dict[str, Path]) -> list[str]:
    try:
        plt = pyplot()
    except ElectraError as exc:
        print(f"compare: no plots ({exc})", file=sys.stderr)
        return []
    return [score_plot(plt, job, results), pretraining_plot(plt, job, runs)]


def score_plot(plt, job: CompareJob, results: dict) -> str:
    """The paper's Figure 1 at the user's scale: fine-tuned score against pretraining FLOPs."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for arm, by_fraction in results["arms"].items():
        points = sorted(
            (v["flops"] or 0.0, v["median"], v["min"], v["max"]) for k, v in by_fraction.items() if k != "pretraining"
        )
        xs = [p[0] for p in points]
        ax.errorbar(
            xs,
            [p[1] for p in points],
            yerr=[[p[1] - p[2] for p in points], [p[3] - p[1] for p in points]],
            marker="o",
            capsize=3,
            label=arm,
        )
    ax.axhline(results["random_init"]["median"], color="grey", linestyle="--", label="random init")
    if results.get("data_init") is not None:
        ax.axhline(results["data_init"]["median"], color="tab:green", linestyle="--", label=DATA_INIT)
    if results["trivial"]["score"] is not None:
        ax.axhline(results["trivial"]["score"], color="black", linestyle=":", label=results["trivial"]["predictor"])
    ax.set_xlabel("pretraining FLOPs")
    ax.set_ylabel(f"{results['metric']} ({results['random_init']['split']}, median of {len(job.seeds)} seeds)")
    ax.set_title(f"{job.task}: fine-tuned score against pretraining compute")
    return save_figure(fig, [ax], job.out / "score_vs_flops.png").name


def pretraining_plot(plt, job: CompareJob, runs: dict[str, Path]) -> str:
    """MLM loss of every arm, and the discriminator's loss over its baseline, against FLOPs."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for arm, run in runs.items():
        rows = read_rows(run)
        left.plot([r["flops"] for r in rows], [r["mlm_loss"] for r in rows], label=f"{arm}: MLM loss")
        if any(r.get("disc_loss_ratio") is not None for r in rows):
            pts = [(r["flops"], r["disc_loss_ratio"]) for r in rows if r.get("disc_loss_ratio") is not None]
            right.plot([p[0] for p in pts], [p[1] for p in pts], label=arm)
    right.axhline(1.0, color="grey", linestyle="--", label="always 'original'")
    left.set_xlabel("pretraining FLOPs")
    right.set_xlabel("pretraining FLOPs")
    left.set_ylabel("generator / MLM loss")
    right.set_ylabel("discriminator loss / baseline")
    return save_figure(fig, [left, right], job.out / "pretraining.png").name


def _versus(a: dict, b: dict) -> str:
    """How two score summaries relate, seeds' spread included."""
    if a["min"] > b["max"]:
        return "beats"
    if a["median"] > b["median"]:
        return "is above (by the median; the seeds' ranges overlap)"
    return "does not beat"


def verdict(results: dict) -> list[str]:
    """The report's conclusions, each with its reason where the run shows one."""
    arms, random_init, data_init = results["arms"], results["random_init"], results.get("data_init")
    full = fraction_name(1.0)
    lines = trivial_line(results)
    if len(arms) > 1:
        ranked = sorted(arms, key=lambda arm: arms[arm][full]["median"], reverse=True)
        order = ", ".join(f"{arm} {arms[arm][full]['median']:.4f}" for arm in ranked)
        lines.append(f"- At the full budget, best first: {order}.")
    for arm, by_fraction in arms.items():
        score = by_fraction[full]
        lines.append(
            f"- {arm} {_versus(score, random_init)} random initialisation "
            f"({score['median']:.4f} vs {random_init['median']:.4f})."
        )
        if data_init is not None:
            lines.append(
                f"- {arm} {_versus(score, data_init)} the {DATA_INIT} network "
                f"({score['median']:.4f} vs {data_init['median']:.4f})."
            )
        lines.extend(discriminator_state_line(arm, by_fraction["pretraining"]))
    if arms and all(by_fraction[full]["median"] <= random_init["median"] for by_fraction in arms.values()):
        lines.append(
            "- **No pretrained model beats random initialisation**: at this budget pretraining has "
            "not paid for itself on this task. Weights from a short pretraining run can fine-tune "
            "worse than fresh ones; see docs/finetuning.md and docs/small-budgets.md."
        )
    elif data_init is not None and all(b[full]["median"] <= data_init["median"] for b in arms.values()):
        lines.append(
            f"- **No pretrained model beats the {DATA_INIT} network**: what these models bring to "
            "fine-tuning, the token vectors alone bring too; see docs/small-budgets.md."
        )
    return lines


def trivial_line(results: dict) -> list[str]:
    """A warning, first in the verdict, when no model (baselines included) scores above the trivial
    predictor: the comparisons that follow are then between ties with a constant answer."""
    trivial = results.get("trivial") or {}
    if trivial.get("score") is None:
        return []
    full = fraction_name(1.0)
    baselines = [results["random_init"], results.get("data_init")]
    medians = [by_fraction[full]["median"] for by_fraction in results["arms"].values()]
    medians += [baseline["median"] for baseline in baselines if baseline is not None]
    if max(medians) > trivial["score"]:
        return []
    return [
        f"- **No model beats the trivial predictor** ({trivial['predictor']}: {trivial['score']:.4f}): "
        "on this task nothing here learned more than that constant answer, so the lines below "
        "compare ties with it."
    ]


def discriminator_state_line(arm: str, state: dict) -> list[str]:
    """Why a discriminator has little to offer fine-tuning: still on its plateau, or barely off it."""
    ratio, recall = state.get("disc_loss_ratio"), state.get("disc_recall", 0.0)
    if ratio is None:
        return []
    if ratio > PLATEAU_TOLERANCE:
        return [
            f"- **{arm}'s discriminator never left the plateau where it calls every token "
            f"'{'replaced' if recall > 0.5 else 'original'}'**: "
            f"its loss is {ratio:.3f} × its constant-answer baseline at the end (recall on replaced "
            f"tokens {recall:.1%}). At this budget its fine-tuning starts from a detector that has "
            f"learned almost nothing; see docs/small-budgets.md."
        ]
    if recall < EARLY_ESCAPE_RECALL:
        return [
            f"- **{arm}'s discriminator had only begun to leave its plateau**: its loss is {ratio:.3f} × "
            f"its constant-answer baseline at the end and it catches {recall:.1%} of the replaced "
            f"tokens. More pretraining steps continue the escape; see docs/small-budgets.md."
        ]
    return []


def finetune_flags(settings: FinetuneConfig) -> str:
    """The ``electra finetune`` options that differ from their defaults."""
    default = FinetuneConfig()
    return "".join(
        f" --{f.name.replace('_', '-')} {getattr(settings, f.name)}"
        for f in dataclasses.fields(settings)
        if getattr(settings, f.name) != getattr(default, f.name) and f.name != "device"
    )


def recipe_note(job: CompareJob) -> str:
    """The starting weights, generator shape and sharing, and cap the arms ran with (the preset's unless overridden)."""
    chosen = job_preset(job)
    model, recipe = chosen.model, chosen.objective
    start = "" if model.init_scheme == "bert" else f", {model.init_scheme} start"
    generator = ""
    if any("generator" in objective_class(arm).folders for arm in job.arms):
        depth = "full depth" if recipe.generator_layers is None else f"{recipe.generator_layers} layers"
        generator = f", generator width {recipe.generator_fraction:g}, {depth}"
        if recipe.embedding_sharing != "es":
            generator += f", embedding sharing {recipe.embedding_sharing}"
    cap = "" if recipe.embedding_norm_cap is None else f", token rows capped at norm {recipe.embedding_norm_cap:g}"
    vectors = ", token table started from the data's token vectors" if recipe.token_vectors else ""
    frozen = ", token table frozen in pretraining" if recipe.freeze_token_table else ""
    return f"{start}{generator}{cap}{vectors}{frozen}"


def pretraining_table(arms: dict) -> list[str]:
    """Each arm's last metrics row: the MLM's or generator's word prediction, the kept network's own
    where it predicts words from generator samples (replace-mlm, all-tokens-mlm), and the
    discriminator's state."""

    def cell(state: dict, key: str, fmt: str) -> str:
        return "–" if state.get(key) is None else format(state[key], fmt)

    lines = [
        "| objective | steps | FLOPs | MLM loss | MLM acc | kept network's loss / acc | disc loss / baseline | disc recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, by_fraction in arms.items():
        s = by_fraction["pretraining"]
        own = "–" if s.get("main_loss") is None else f"{s['main_loss']:.3f} / {cell(s, 'main_acc', '.3f')}"
        lines.append(
            f"| {arm} | {s.get('step')} | {s.get('flops', 0):.3g} | {cell(s, 'mlm_loss', '.3f')} | "
            f"{cell(s, 'gen_acc', '.3f')} | {own} | {cell(s, 'disc_loss_ratio', '.3f')} | "
            f"{cell(s, 'disc_recall', '.3f')} |"
        )
    return lines + [
        "",
        "MLM loss / acc: the generator's in the arms that have one, the model's own for `mlm`. The kept "
        "network's accuracy is on the positions it must restore (docs/objectives.md).",
    ]


def report(job: CompareJob, results: dict, plots: list[str]) -> str:
    metric, split = results["metric"], results["random_init"]["split"]
    lines = [
        f"# {' vs '.join(results['arms'])} at equal compute: {job.task}",
        "",
        f"Preset `{job.preset}` ({job.dtype}{recipe_note(job)}), budget {job.budget:g} {job.unit} per objective, data `{job.data}`, "
        f"task data `{job.task_data}`, seeds {','.join(map(str, job.seeds))}"
        + (f", fine-tuning options `{flags.strip()}`" if (flags := finetune_flags(job.finetune)) else "")
        + f". Scores: {metric} on {split}, median over seeds (min–max).",
        "",
        "## Verdict",
        "",
        *verdict(results),
        "",
        "## Fine-tuned scores",
        "",
        "| task | objective | budget fraction | pretraining FLOPs | steps | median | min–max | per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, by_fraction in results["arms"].items():
        for name, v in by_fraction.items():
            if name == "pretraining":
                continue
            flops = f"{v['flops']:.3g}" if v["flops"] is not None else "?"
            seeds = ", ".join(f"{x:.4f}" for x in v["per_seed"])
            lines.append(
                f"| {job.task} | {arm} | {name} | {flops} | {v['step']} | {v['median']:.4f} | "
                f"{v['min']:.4f}–{v['max']:.4f} | {seeds} |"
            )
    for name, key in (("random init", "random_init"), (DATA_INIT, "data_init")):
        if (r := results.get(key)) is not None:
            lines.append(
                f"| {job.task} | {name} | – | 0 | 0 | {r['median']:.4f} | {r['min']:.4f}–{r['max']:.4f} | "
                f"{', '.join(f'{x:.4f}' for x in r['per_seed'])} |"
            )
    if results["trivial"]["score"] is not None:
        lines.append(
            f"| {job.task} | trivial ({results['trivial']['predictor']}) | – | – | – | "
            f"{results['trivial']['score']:.4f} | | |"
        )
    lines += ["", "## Pretraining at the end of the budget", "", *pretraining_table(results["arms"])]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += [
        "",
        "## Reproducing a number",
        "",
        "Every snapshot is a model folder; fine-tuning it again with the same seeds gives the same scores, e.g.:",
        "",
        "```bash",
    ]
    for arm, by_fraction in results["arms"].items():
        v = by_fraction[fraction_name(1.0)]
        model = Path(v["checkpoint"]) / objective_class(arm).encoder
        lines.append(
            f"electra finetune --model {model} --task {job.task} --data {job.task_data} "
            f"--seeds {','.join(map(str, job.seeds))}{finetune_flags(job.finetune)} --out rerun-{arm}"
        )
    if results.get("data_init") is not None:
        first = next(iter(results["arms"]))
        model = Path(results["arms"][first][fraction_name(1.0)]["checkpoint"]) / objective_class(first).encoder
        lines.append(
            f"electra finetune --model {model} --init data --token-vectors {job.data} --task {job.task} "
            f"--data {job.task_data} --seeds {','.join(map(str, job.seeds))}{finetune_flags(job.finetune)} "
            f"--out rerun-data-init"
        )
    lines += ["```", ""]
    return "\n".join(lines)
