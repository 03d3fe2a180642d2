"""``electra finetune``, ``evaluate`` and ``predict``: from folders and files to results.

A fine-tuning run writes one model folder per seed (``OUT/seed-N``: the HF-layout config with
the task's state, ``model.safetensors``, the tokenizer, that seed's ``results.json`` and its
per-epoch rows as ``--loggers`` chose: ``metrics.jsonl``, ``tb/``, ...) and
``OUT/results.json`` with the median over seeds of every dev and test score, their spread,
the per-seed values and which seed did best on dev. ``evaluate`` and ``predict`` accept a seed
folder, the run folder (they then use the best seed) or a fine-tuned ``transformers`` folder
(``electra export``'s output); the file's columns may be named anew (:class:`Columns`).

Refused before anything is written: a pair's generator as the model to fine-tune (the MLM run's
``mlm/`` network is accepted: it is that run's encoder), and an ``--out`` that holds anything but
an earlier fine-tuning run (which ``--overwrite`` replaces whole: its seed folders go).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from electra.config import FinetuneConfig, ModelConfig
from electra.data.vectors import read_token_vectors
from electra.errors import ElectraError
from electra.files import earlier_output, make_folder, write_json, write_text_atomic
from electra.finetune import metrics
from electra.finetune.examples import Split
from electra.finetune.problems import Problem, make_problem
from electra.finetune.readers import load_hub_dataset, read_inputs, read_split, split_files
from electra.finetune.tasks import TaskSpec, resolve_task
from electra.finetune.train import evaluate, fit, model_outputs
from electra.model.heads import TaskModel
from electra.model.io import load_encoder, load_weights, network_folder, read_config, refuse_generator, save_network
from electra.model.networks import apply_init_scheme
from electra.model.vectors import place_token_vectors, token_tables
from electra.runtime import resolve_device
from electra.tokenizer import load_tokenizer, special_ids
from electra.train import sinks


@dataclass(frozen=True)
class Columns:
    """Which columns of a file to read, overriding the defaults (or, for ``evaluate`` and
    ``predict``, the columns the model was fine-tuned with); None keeps them."""

    text_columns: tuple[str, ...] | None = None
    label_column: str | None = None
    token_column: int | None = None
    """CoNLL: the word column."""
    tag_column: int | None = None
    """CoNLL: the tag column."""

    def apply(self, spec: TaskSpec) -> TaskSpec:
        return spec.with_columns(self.text_columns, self.label_column, self.token_column, self.tag_column)


INITS = ("pretrained", "random", "data")


@dataclass
class FinetuneJob:
    model: Path
    task: str
    data: Path | str
    out: Path
    seeds: list[int] = field(default_factory=lambda: [1])
    init: str = "pretrained"
    """'pretrained' (the model's encoder weights), 'random' (same architecture, fresh weights) or
    'data' (fresh weights whose token table starts from ``token_vectors``: the data-initialised,
    not pretrained, baseline of a model pretrained with ``recipe.token_vectors``)."""
    settings: FinetuneConfig = field(default_factory=FinetuneConfig)
    text_columns: tuple[str, ...] | None = None
    label_column: str | None = None
    tagging_scheme: str = "auto"
    """'auto' (detected from the tags), 'span' or 'token'."""
    overwrite: bool = False
    """Replace an earlier fine-tuning run in ``out`` (refused otherwise)."""
    token_column: int | None = None
    """CoNLL: the word column (default 0)."""
    tag_column: int | None = None
    """CoNLL: the tag column (default -1, the last)."""
    token_vectors: Path | None = None
    """With ``init='data'``: the prepared folder whose token vectors (``electra prepare
    --token-vectors``) the fresh token table starts from, as ``recipe.token_vectors`` places them."""

    def spec(self) -> TaskSpec:
        return Columns(self.text_columns, self.label_column, self.token_column, self.tag_column).apply(
            resolve_task(self.task)
        )

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ElectraError(f"invalid --init {self.init!r}: use {', '.join(INITS)}")
        if (self.init == "data") != (self.token_vectors is not None):
            raise ElectraError(
                "--init data starts the token table from the token vectors of a prepared folder: give "
                "both --init data and --token-vectors FOLDER, or neither"
            )
        if self.tagging_scheme not in ("auto", "span", "token"):
            raise ElectraError(f"invalid --tagging-scheme {self.tagging_scheme!r}: use auto, span or token")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ElectraError(f"invalid --seeds {self.seeds!r}: give distinct integers, e.g. 1,2,3")


# ---------------------------------------------------------------- hyperparameters by size

SIZE_DEFAULTS = {"small": (3e-4, 0.8), "base": (1e-4, 0.8), "large": (5e-5, 0.9)}
"""Fine-tuning lr and layer decay of the paper (docs/recipe.md, "Fine-tuning"); tiny models use Small's."""


def size_of(cfg: ModelConfig) -> str:
    """Small (and smaller), Base or Large, by hidden size."""
    if cfg.hidden_size >= 1024:
        return "large"
    return "base" if cfg.hidden_size >= 768 else "small"


def hyperparameters(job: FinetuneJob, cfg: ModelConfig, spec: TaskSpec) -> dict:
    lr, decay = SIZE_DEFAULTS[size_of(cfg)]
    s = job.settings
    return {
        "lr": s.lr or lr,
        "layer_decay": s.layer_decay or decay,
        "epochs": s.epochs or spec.epochs,
        **{k: v for k, v in dataclasses.asdict(s).items() if k not in ("lr", "layer_decay", "epochs", "loggers")},
    }


SAME_RUN_IGNORES = ("device", "eval_batch_size")
"""Settings that do not change a run's scores: an earlier run may differ in them and still stand."""


def differences(earlier: dict, job: FinetuneJob, cfg: ModelConfig) -> dict[str, tuple]:
    """What an earlier run's ``results.json`` ran with that ``job`` (on a model of config ``cfg``)
    would not, as name -> (then, now): seeds, init and every setting that changes scores. A setting
    the run predates had its default; ``reinit_layers`` does not change a random start."""
    defaults = {name: value for name, value in dataclasses.asdict(FinetuneConfig()).items() if name != "loggers"}
    then = {
        "seeds": earlier.get("seeds"),
        "init": earlier.get("init"),
        **defaults,
        **(earlier.get("hyperparameters") or {}),
    }
    now = {"seeds": job.seeds, "init": job.init, **hyperparameters(job, cfg, job.spec())}
    ignored = SAME_RUN_IGNORES + (("reinit_layers",) if job.init != "pretrained" else ())
    return {
        name: (then.get(name), value) for name, value in now.items() if name not in ignored and then.get(name) != value
    }


# ---------------------------------------------------------------- model folders


def finetuned_folder(path: Path) -> Path:
    """A seed folder, or the best seed's folder of a fine-tuning run."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    results = path / "results.json"
    if results.is_file():
        try:
            best = json.loads(results.read_text(encoding="utf-8"))["best_seed"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise ElectraError(
                f"{results}: not a fine-tuning run's results (no readable 'best_seed': {exc!r}); "
                f"give one of its seed-N folders"
            ) from exc
        if not (path / f"seed-{best}" / "config.json").is_file():
            raise ElectraError(f"{results}: the best seed's model {path / f'seed-{best}'} is missing")
        return path / f"seed-{best}"
    raise ElectraError(f"{path}: not a fine-tuned model (no config.json or results.json)")


def load_finetuned(path: Path, device: str = "auto", columns: Columns = Columns()) -> tuple[TaskModel, Problem, Path]:
    """The model, its task (columns as fine-tuned, unless ``columns`` names others) and its folder."""
    folder = finetuned_folder(path)
    body = read_config(folder)
    task = body.get("electra_task") or task_from_transformers(body, folder / "config.json")
    cfg = ModelConfig.from_dict(body, source=str(folder / "config.json"))
    spec = resolve_task(task["name"]).with_columns(
        _tuple(task.get("text_columns")), task.get("label_column"), task.get("token_column"), task.get("tag_column")
    )
    spec = columns.apply(spec)
    settings = FinetuneConfig(**{**task["settings"], "device": device})
    problem = make_problem(spec, settings, load_tokenizer(folder))
    problem.load_state(task["state"])
    model = problem.build_model(cfg)
    load_weights(model, folder)
    return model, problem, folder


HF_TASK_CLASSES = ("ElectraForSequenceClassification", "ElectraForTokenClassification", "ElectraForQuestionAnswering")


def task_from_transformers(body: dict, source: Path) -> dict:
    """The task entry of a fine-tuned ``transformers`` ELECTRA folder (ours exported, or anyone's):
    the kind from its class, the labels from ``id2label``. QA models answer unless "no answer"
    scores higher (threshold 0), since no dev-tuned threshold travels with them."""
    architecture = (body.get("architectures") or [None])[0]
    if architecture not in HF_TASK_CLASSES:
        raise ElectraError(
            f"{source}: not a fine-tuned model (no 'electra_task' entry, and architecture "
            f"{architecture!r} is none of {', '.join(HF_TASK_CLASSES)})"
        )
    id2label = {int(k): v for k, v in (body.get("id2label") or {}).items()}
    labels = [id2label.get(i, f"LABEL_{i}") for i in range(int(body.get("num_labels", len(id2label) or 2)))]
    if architecture == "ElectraForQuestionAnswering":
        return {"name": "qa", "state": {"with_null": True, "null_threshold": 0.0}, "settings": {}}
    if architecture == "ElectraForTokenClassification":
        return {
            "name": "tagging",
            "state": {"labels": labels, "scheme": metrics.is_span_scheme(labels)},
            "settings": {},
        }
    if body.get("problem_type") == "regression" or len(labels) == 1:
        return {"name": "regression", "state": {}, "settings": {}}
    return {"name": "classification", "state": {"labels": labels}, "settings": {}}


def _tuple(value) -> tuple[str, ...] | None:
    return tuple(value) if value else None


# ---------------------------------------------------------------- data


def load_splits(data: Path | str, spec: TaskSpec) -> dict[str, Split]:
    """train (labelled, required), dev and test from a folder, a train file, or a hub name."""
    path = Path(data)
    if path.exists():
        splits = {name: read_split(file, spec) for name, file in split_files(path, spec).items()}
    elif "/" in str(data) and not str(data).startswith((".", "/")):
        try:
            splits = load_hub_dataset(str(data), spec)
        except ElectraError as exc:
            raise ElectraError(f"{data}: no such file or folder, and not a Hugging Face dataset ({exc})") from exc
    else:
        raise ElectraError(f"{data}: no such file or folder")
    if not splits["train"].labelled:
        raise ElectraError(f"{splits['train'].path}: the training file has no labels")
    return splits


def read_one(path: Path, spec: TaskSpec) -> Split:
    if not Path(path).is_file():
        raise ElectraError(f"{path}: no such file")
    return read_split(Path(path), spec)


# ---------------------------------------------------------------- finetune


@dataclass
class Prepared:
    """Everything a seed's run shares: the task, the source model, the data as features."""

    spec: TaskSpec
    cfg: ModelConfig
    source: Path
    problem: Problem
    splits: dict[str, Split]
    features: dict
    hp: dict
    device: torch.device
    vectors: torch.Tensor | None = None
    """``init='data'``: the token vectors a fresh token table starts from."""


def source_config(model: Path) -> ModelConfig:
    """The config of the network to fine-tune; a pair's generator is refused."""
    source = network_folder(model)
    refuse_generator(source, "fine-tune")
    return ModelConfig.from_dict(read_config(source), source=str(source / "config.json"))


def prepare(job: FinetuneJob) -> Prepared:
    """Read the model's config and tokenizer and the data; learn labels; featurize every split."""
    spec = job.spec()
    source = network_folder(job.model)
    cfg = source_config(source)
    if job.settings.reinit_layers > cfg.num_hidden_layers:
        raise ElectraError(
            f"invalid --reinit-layers {job.settings.reinit_layers}: {source} has only "
            f"{cfg.num_hidden_layers} encoder layers"
        )
    splits = load_splits(job.data, spec)
    problem = make_problem(spec, job.settings, load_tokenizer(source), job.tagging_scheme)
    problem.fit_labels(splits["train"], [s for k, s in splits.items() if k != "train"])
    if job.settings.max_train_examples:  # after the labels: a cut training set keeps the full label set
        splits["train"].examples = splits["train"].examples[: job.settings.max_train_examples]
    features = {name: problem.featurize(split) for name, split in splits.items()}
    vectors = None if job.token_vectors is None else read_token_vectors(job.token_vectors)
    if vectors is not None and vectors.shape[0] != cfg.vocab_size:
        raise ElectraError(
            f"{job.token_vectors}: token vectors for {vectors.shape[0]} ids, but {source} has a vocabulary "
            f"of {cfg.vocab_size}: give the folder the model was pretrained on"
        )
    return Prepared(
        spec,
        cfg,
        source,
        problem,
        splits,
        features,
        hyperparameters(job, cfg, spec),
        resolve_device(job.settings.device),
        vectors,
    )


def finetune(job: FinetuneJob, progress: bool = True) -> dict:
    """Fine-tune one model per seed; write each seed's folder and ``OUT/results.json``."""
    sinks.require(job.settings.loggers, "--loggers")  # a tracker's missing package: before any work
    earlier = earlier_run(job.out, job.overwrite)
    prepared = prepare(job)
    for path in earlier:  # only now: a job refused while preparing leaves the earlier run as it was
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    make_folder(job.out)
    hp = prepared.hp
    runs = []
    reinit = (
        f", top {hp['reinit_layers']} layers re-initialised" if hp["reinit_layers"] and job.init == "pretrained" else ""
    )
    for seed in job.seeds:
        print(
            f"seed {seed}: {len(prepared.splits['train'])} training examples, {hp['epochs']} epochs, "
            f"lr {hp['lr']:g}, layer decay {hp['layer_decay']:g}{reinit}",
            file=sys.stderr,
        )
        runs.append(run_seed(job, prepared, seed, progress))
    results = summarize(job, prepared.spec, prepared.problem, hp, runs)
    results["baseline"] = baselines(prepared)
    write_json(job.out / "results.json", results)
    return results


def earlier_run(out: Path, overwrite: bool) -> list[Path]:
    """The files of an earlier fine-tuning run in ``out`` that ``overwrite`` lets go; any other
    content of ``out`` (a pretraining run, an export, ...) is refused: the run would mix into it."""
    return earlier_output(out, is_run_file, "a fine-tuning run", overwrite)


def is_run_file(path: Path) -> bool:
    """What a fine-tuning run's folder holds: results.json and seed-N folders."""
    return (path.name == "results.json" and path.is_file()) or (path.name.startswith("seed-") and path.is_dir())


def run_seed(job: FinetuneJob, p: Prepared, seed: int, progress: bool) -> dict:
    """Train from the source weights (or fresh ones), keep the best dev epoch, score, save."""
    torch.manual_seed(seed)  # head (and, with --init random or data, encoder) initialisation; dropout
    model = p.problem.build_model(p.cfg)
    start_encoder(model, p, pretrained=job.init == "pretrained", reinit_layers=job.settings.reinit_layers)
    model.to(p.device)
    pad = special_ids(p.problem.tokenizer).pad
    dev = (p.splits["dev"], p.features["dev"]) if "dev" in p.splits and p.splits["dev"].labelled else None
    sink = sinks.open_sinks(job.settings.loggers, job.out / f"seed-{seed}", config={**p.hp, "seed": seed})
    try:
        fitted = fit(
            model,
            p.problem,
            p.features["train"],
            dev,
            job.settings,
            p.hp["epochs"],
            p.hp["lr"],
            p.hp["layer_decay"],
            seed,
            p.device,
            pad,
            progress,
            sink,
        )
    finally:
        sink.close()
    scores = {
        name: evaluate(
            model, p.problem, p.splits[name], p.features[name], job.settings.eval_batch_size, p.device, pad
        ).scores
        for name in ("dev", "test")
        if name in p.splits and p.splits[name].labelled
    }
    run = {"seed": seed, "best_epoch": fitted.best_epoch, **scores, "history": fitted.history}
    save_finetuned(model, job, p, job.out / f"seed-{seed}")
    write_json(job.out / f"seed-{seed}" / "results.json", run)
    return run


def start_encoder(model: TaskModel, p: Prepared, pretrained: bool, reinit_layers: int) -> None:
    """The encoder's starting weights: the source's, but for its top ``reinit_layers`` layers, which
    keep the fresh start random initialisation gives them; or, not ``pretrained``, all fresh. A fresh
    start is the source's data-free scheme, so that the baseline differs only by pretraining, with
    the token vectors placed as pretraining placed them when ``p`` has them (``--init data``)."""
    if not pretrained or reinit_layers:
        apply_init_scheme(p.cfg, [model.electra])
    if not pretrained:
        if p.vectors is not None:
            place_token_vectors(token_tables([model]), p.vectors, p.cfg)
        return
    top = model.electra.encoder.layer[len(model.electra.encoder.layer) - reinit_layers :]
    fresh = {name: tensor.clone() for name, tensor in top.state_dict().items()}
    load_encoder(model, p.source)
    top.load_state_dict(fresh)


def save_finetuned(model: TaskModel, job: FinetuneJob, p: Prepared, folder: Path) -> None:
    """The model folder: HF task config (labels) + what ``load_finetuned`` needs to rebuild the task."""
    spec = p.spec
    save_network(
        model,
        folder,
        tokenizer_dir=p.source,
        extra_config={
            **p.problem.hf_config(),
            "classifier_dropout": job.settings.classifier_dropout,
            "electra_task": {
                "name": spec.name,
                "kind": spec.kind,
                "text_columns": spec.text_columns,
                "label_column": spec.label_column,
                "token_column": spec.token_column,
                "tag_column": spec.tag_column,
                "state": p.problem.state(),
                "settings": dataclasses.asdict(job.settings),
            },
        },
    )


def baselines(p: Prepared) -> dict:
    """The trivial predictor's scores on dev and test, for judging the model against it."""
    out = {}
    for name in ("dev", "test"):
        if name in p.splits and p.splits[name].labelled:
            out["predictor"], out[name] = p.problem.baseline(p.splits["train"], p.splits[name])
    return out


def summarize(job: FinetuneJob, spec: TaskSpec, problem: Problem, hp: dict, runs: list[dict]) -> dict:
    """Medians over seeds (the paper reports medians), the spread and the per-seed values."""
    main = problem.main_metric()
    results = {
        "task": spec.name,
        "kind": spec.kind,
        "model": str(job.model),
        "init": job.init,
        **({"token_vectors": str(job.token_vectors)} if job.token_vectors is not None else {}),
        "seeds": job.seeds,
        "main_metric": main,
        "hyperparameters": hp,
    }
    for name in ("dev", "test"):
        per_seed = [run[name] for run in runs if name in run]
        if not per_seed:
            continue
        results[name] = {m: statistics.median(s[m] for s in per_seed) for m in per_seed[0]}
        results[f"{name}_spread"] = {
            m: {
                "min": min(s[m] for s in per_seed),
                "max": max(s[m] for s in per_seed),
                "std": statistics.pstdev(s[m] for s in per_seed),
            }
            for m in per_seed[0]
        }
    results["per_seed"] = [{k: run[k] for k in ("seed", "best_epoch", "dev", "test") if k in run} for run in runs]
    ranked = [run for run in runs if "dev" in run] or runs
    results["best_seed"] = max(ranked, key=lambda run: run.get("dev", {}).get(main, 0.0))["seed"]
    return results


# ---------------------------------------------------------------- evaluate and predict


def output_file(path: Path | None) -> Path | None:
    """``--out`` of evaluate / predict: a file (its folder made when written), never a folder;
    checked before any work."""
    if path is not None and Path(path).is_dir():
        raise ElectraError(f"{path}: is a folder; --out takes a file name (nothing was written)")
    return None if path is None else Path(path)


def write_output(path: Path, text: str) -> None:
    make_folder(path.parent)
    write_text_atomic(path, text)


def evaluate_file(model_path: Path, data: Path, device: str = "auto", columns: Columns = Columns()) -> dict:
    """Scores of the model on a labelled file; labels the model never learned count as errors."""
    model, problem, folder = load_finetuned(model_path, device, columns)
    split = read_one(data, problem.spec)
    if not split.labelled:
        raise ElectraError(f"{data}: no labels to evaluate against (use 'electra predict')")
    problem.check_labels(split)
    target = resolve_device(device)
    model.to(target)
    features = problem.featurize(split)
    scores = evaluate(
        model, problem, split, features, problem.settings.eval_batch_size, target, special_ids(problem.tokenizer).pad
    ).scores
    return {"model": str(folder), "data": str(data), "examples": len(split), **scores}


def predict_file(
    model_path: Path, data: Path, out: Path | None, device: str = "auto", columns: Columns = Columns()
) -> int:
    """Write the model's predictions for a file (also plain text: one example a line)."""
    out = output_file(out)
    model, problem, _ = load_finetuned(model_path, device, columns)
    if not Path(data).is_file():
        raise ElectraError(f"{data}: no such file")
    split = read_inputs(Path(data), problem.spec)
    target = resolve_device(device)
    model.to(target)
    features = problem.featurize(split)
    outputs = model_outputs(
        model, problem, features, problem.settings.eval_batch_size, target, special_ids(problem.tokenizer).pad
    )
    predictions = problem.predictions(split, features, outputs)
    if isinstance(predictions, dict):
        text = json.dumps(predictions, indent=1) + "\n"
    else:
        text = "".join(json.dumps(row) + "\n" for row in predictions)
    if out is None:
        sys.stdout.write(text)
    else:
        write_output(out, text)
    return len(split)
