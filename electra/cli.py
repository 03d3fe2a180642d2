"""The ``electra`` command: one typed parser per subcommand, each mapped straight to a function.

Options backed by a config dataclass come from one mechanism, :func:`add_config_options`:
jsonargparse generates them from the fields (type, default, and the docstring under the field as
help). Inside a group they read ``--model.hidden_size 64``, ``--recipe.disc_weight 30``,
``--train.lr 1e-3`` (also from a YAML file with ``--config run.yaml``, keys ``model``, ``recipe``,
``train``); at the top level ``--layer-decay 0.8``. Values are validated before any work starts:
the dataclasses raise :class:`~electra.errors.ConfigError`, whose field :func:`config_from`
qualifies with the group.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Optional

from jsonargparse import ActionConfigFile, ArgumentParser, Namespace, set_parsing_settings

from electra.config import (
    DTYPES,
    INIT_SCHEMES,
    PRESETS,
    SHARING,
    FinetuneConfig,
    ModelConfig,
    ObjectiveConfig,
    PrepareConfig,
    TrainConfig,
    preset,
)
from electra.errors import ConfigError, ElectraError, Preempted
from electra.objectives import OBJECTIVES

set_parsing_settings(docstring_parse_attribute_docstrings=True)  # field docstrings become --help text

COMMANDS_HELP = """usage: electra <command> [options]

commands:
  prepare    text files/folders -> tokenizer + pretraining shards
  pretrain   pretrain ELECTRA (replaced token detection) or the MLM baseline
  validate   judge a generator + discriminator pair on held-out text
  demo       prepare the built-in corpus, pretrain a tiny ELECTRA live, show detections
  finetune   fine-tune a discriminator: classification, regression, tagging, extractive QA
  evaluate   score a fine-tuned model on a labelled file
  predict    predictions of a fine-tuned model for a file
  export     write a model folder that transformers loads (from_pretrained)
  bench      time our pretraining step against the transformers composition
  detect     every token of a text with the discriminator's P(replaced)
  corrupt    the generator replaces tokens of a text; see which the discriminator catches
  plot       PNG training curves of a pretraining run
  compare    ELECTRA vs MLM at equal compute: pretrain both, fine-tune, report
  glue       fine-tune on every GLUE task of a download; the paper's table

Run 'electra <command> --help' for the options of a command."""


# ---------------------------------------------------------------- config-backed options


def add_config_options(
    parser: ArgumentParser,
    cls,
    group: str | None = None,
    *,
    default=None,
    skip: Iterable[str] = (),
    notes: dict[str, str] | None = None,
) -> None:
    """One typed option per field of the config dataclass ``cls`` (but those in ``skip``), with the
    field's default (or ``default``'s value) and the docstring under the field as help, followed by
    ``notes[field]`` where given; jsonargparse generates them. In a group they are
    ``--GROUP.field_name``; at the top level they are spelled ``--field-name``, as this CLI's other
    options are."""
    first = len(parser._actions)
    parser.add_class_arguments(cls, group, default=default, skip=set(skip))
    for action in parser._actions[first:]:
        note = (notes or {}).get(action.dest.rsplit(".", 1)[-1])
        if note:
            action.help = f"{action.help} {note}"
        if group is None:
            _respell(parser, action, [option.replace("_", "-") for option in action.option_strings])


def _respell(parser: ArgumentParser, action: argparse.Action, options: list[str]) -> None:
    """Give ``action`` the option strings ``options`` instead of its own."""
    for option in action.option_strings:
        del parser._option_string_actions[option]
    action.option_strings[:] = options
    parser._option_string_actions.update(dict.fromkeys(options, action))


def add_shortcuts(parser: ArgumentParser, cls, group: str, names: Iterable[str]) -> None:
    """Top-level ``--field-name`` options standing for ``--GROUP.field_name`` (unset: the group's value
    stands). Read them with ``config_from(cls, ns, group, field_name=...)``."""
    hints = typing.get_type_hints(cls)
    for name in names:
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=Optional[hints[name]], default=None, help=f"alias of --{group}.{name}"
        )


def config_from(cls, ns: Namespace, group: str | None = None, *, skip: Iterable[str] = (), **values):
    """The ``cls`` instance that the options of :func:`add_config_options` describe (``values`` win,
    fields in ``skip`` keep their default). A :class:`ConfigError` names the field in its group."""
    source = ns if group is None else ns[group]
    left_out = set(skip) | set(values)
    values.update({f.name: source[f.name] for f in dataclasses.fields(cls) if f.name not in left_out})
    try:
        return cls(**values)
    except ConfigError as exc:
        if group is None:
            raise
        raise exc.within(group) from exc


PRESET_GROUPS = {
    "model": ("model", ModelConfig),
    "recipe": ("objective", ObjectiveConfig),
    "train": ("train", TrainConfig),
}
"""Option group -> (attribute of a :class:`~electra.config.Preset`, config class) for pretraining."""


def preset_fields(groups: Iterable[str] = ("model", "recipe", "train")) -> str:
    """The fields a preset sets (those some preset gives a value other than the field's default),
    e.g. ``model: hidden_size, ...; recipe: mask_prob, ...``: what ``--preset`` changes."""
    presets = [make() for make in PRESETS.values()]
    parts = []
    for group in groups:
        attribute, cls = PRESET_GROUPS[group]
        default = cls()
        names = [
            f.name
            for f in dataclasses.fields(cls)
            if any(getattr(getattr(p, attribute), f.name) != getattr(default, f.name) for p in presets)
        ]
        parts.append(f"{group}: {', '.join(names)}")
    return "; ".join(parts)


# ---------------------------------------------------------------- prepare


def prepare_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="electra prepare", description="Tokenize text and write pretraining shards.")
    parser.add_argument(
        "paths",
        nargs="*",
        default=[],
        help="files (.txt, .txt.gz, .jsonl, .jsonl.gz, .parquet) or folders of them (optional with --hf-dataset)",
    )
    parser.add_argument(
        "--hf-dataset",
        type=Optional[str],
        default=None,
        help="also read a Hugging Face dataset (pip install 'electra[hf]'), one row = one document: a "
        "folder written by save_to_disk, or a hub name, streamed (offline: save_to_disk a copy and give "
        "its folder). It is one part: built by one worker, resumed only as a whole. A hub dataset is "
        "recorded by name, config and split only (no revision): a rerun reuses what was built from it, "
        "and the output is reproducible only while the hub copy is unchanged",
    )
    parser.add_argument("--hf-config", type=Optional[str], default=None, help="the hub dataset's configuration")
    parser.add_argument(
        "--hf-split",
        type=Optional[str],
        default=None,
        help="the split to read (default: train; a saved Dataset: its own)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (meta.json, shards, tokenizer)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace other prepared data in --out instead of refusing (a folder that is not "
        "prepared data is never written into)",
    )
    parser.add_argument(
        "--text-field",
        default="text",
        help="the field (.jsonl) or column (.parquet, --hf-dataset) holding the text",
    )
    parser.add_argument(
        "--workers",
        type=Optional[int],
        default=None,
        help="processes building files in parallel (default: one, tokenizing on every core)",
    )
    parser.add_argument("--num-shards", type=int, default=1, help="split the files over this many machines")
    parser.add_argument("--shard-index", type=int, default=0, help="which share of the files this machine builds")
    parser.add_argument(
        "--tokenizer-only",
        action="store_true",
        help="train (or copy) the tokenizer into --out and stop (before --num-shards runs)",
    )
    parser.add_argument(
        "--token-vectors",
        type=int,
        default=0,
        help="also compute N-wide token vectors from the shards' co-occurrence counts (PPMI + SVD; "
        "what --recipe.token_vectors starts the token table from; 128 for the tiny presets). Run "
        "again on a finished folder, the same command computes only the vectors",
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML with the options below")
    add_config_options(parser, PrepareConfig)
    return parser


def run_prepare(ns: Namespace) -> None:
    from electra.data.hf_dataset import HFDataset, datasets_module
    from electra.data.prepare import prepare

    inputs: list = [Path(p) for p in ns.paths]
    if ns.hf_dataset is not None:
        datasets_module()  # missing: the install line, before anything else
        inputs.append(HFDataset(ns.hf_dataset, ns.hf_config, ns.hf_split))
    elif ns.hf_config is not None or ns.hf_split is not None:
        raise ElectraError("--hf-config and --hf-split go with --hf-dataset NAME")
    if not inputs:
        raise ElectraError("the following arguments are required: paths (files or folders), or --hf-dataset NAME")
    cfg = config_from(PrepareConfig, ns)
    meta = prepare(
        inputs,
        ns.out,
        cfg,
        workers=ns.workers,
        num_shards=ns.num_shards,
        shard_index=ns.shard_index,
        tokenizer_only=ns.tokenizer_only,
        overwrite=ns.overwrite,
        text_field=ns.text_field,
        token_vectors=ns.token_vectors,
    )
    if meta is not None:
        print(json.dumps({"out": str(ns.out), **meta["counts"]}, indent=2))


# ---------------------------------------------------------------- pretrain


def _preset_name(argv: list[str]) -> str:
    """The --preset given on the command line (it sets the defaults every other option overrides)."""
    for i, arg in enumerate(argv):
        if arg == "--preset" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--preset="):
            return arg.split("=", 1)[1]
    return "tiny"


RUN_RECORD_KEYS = {
    "schema_version": Optional[int],
    "data_fingerprint": Optional[dict],
    "max_seq_len": Optional[int],
    "processes": Optional[int],
}
"""Keys of a run's run.json that are records, not options: accepted (and ignored) in a --config
file, so that ``--config RUN/run.json`` repeats a run's configuration."""


TRAIN_SHORTCUTS = ("max_steps", "max_minutes", "max_flops", "save_every")
"""TrainConfig fields that ``electra pretrain`` also takes as top-level ``--max-steps`` etc.; given,
they win over ``--train.max_steps`` and a --config file, whatever the order."""


def pretrain_command_parser(argv: list[str]) -> ArgumentParser:
    """The pretrain parser; with --resume its defaults are the run's own configuration (RUN/run.json),
    so no option needs retyping and only the ones given differ from the run's."""
    parser = pretrain_parser(_preset_name(argv))
    ns = parser.parse_args(argv)
    if not ns.resume or ns.out is None:
        return parser
    from electra.train.resume import read_run

    run = read_run(ns.out)
    return parser if run is None else pretrain_parser(_preset_name(argv), run)


def _run_defaults(run: dict) -> dict:
    """Parser defaults from a run.json body: its objective, preset, data, init and every known
    model/recipe/train field."""
    defaults = {key: run[key] for key in ("objective", "preset") if run.get(key) is not None}
    defaults.update({key: Path(run[key]) for key in ("data", "init") if run.get(key) is not None})
    for group, (_, cls) in PRESET_GROUPS.items():
        known = {f.name for f in dataclasses.fields(cls)}
        defaults[group] = {k: v for k, v in (run.get(group) or {}).items() if k in known}
    return defaults


def pretrain_parser(preset_name: str, run: dict | None = None) -> ArgumentParser:
    """Options of ``electra pretrain`` with the preset's defaults, or those of ``run`` (a run.json
    body) when resuming it."""
    chosen = preset(preset_name)
    parser = ArgumentParser(prog="electra pretrain", description="Pretrain ELECTRA or the MLM baseline.")
    parser.add_argument(
        "--config", action=ActionConfigFile, help="YAML with model/recipe/train overrides, or a run's run.json"
    )
    parser.add_argument(
        "--data",
        type=Optional[Path],
        default=None,
        help="folder written by 'electra prepare' (with --resume: the run's, unless given)",
    )
    parser.add_argument("--out", type=Optional[Path], default=None, help="run folder")
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="tiny",
        help=f"model size and its defaults, which every other option overrides; it sets {preset_fields()} "
        "(with --preset NAME --help, the defaults shown are NAME's)",
    )
    parser.add_argument(
        "--objective",
        choices=list(OBJECTIVES),
        default="electra",
        help="electra (the paper's replaced token detection), mlm (BERT's baseline) or one of the "
        "paper's ablations: electra15, replace-mlm, all-tokens-mlm (docs/objectives.md)",
    )
    add_shortcuts(parser, TrainConfig, "train", TRAIN_SHORTCUTS)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest good checkpoint, with its own "
        "configuration and data; only the budget, save/log cadence, keep_checkpoints, "
        "device, fsdp, compile and loggers may change",
    )
    parser.add_argument("--deterministic", action="store_true", help="alias of --train.deterministic true")
    parser.add_argument(
        "--init",
        type=Optional[Path],
        default=None,
        help="start from the weights in this run / model-pair folder (continued pretraining)",
    )
    parser.add_argument("--dry-run", action="store_true", help="build the models, report, exit")
    parser.add_argument("--json", action="store_true", help="with --dry-run: print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(parser, ModelConfig, "model", default=chosen.model)
    add_config_options(parser, ObjectiveConfig, "recipe", default=chosen.objective)
    add_config_options(parser, TrainConfig, "train", default=chosen.train)
    for key, kind in RUN_RECORD_KEYS.items():
        parser.add_argument(f"--{key}", type=kind, default=None, help=argparse.SUPPRESS)
    if run is not None:
        parser.set_defaults(_run_defaults(run))
    return parser


def job_from(ns: Namespace):
    from electra.pretrain import PretrainJob

    train = {name: ns[name] for name in TRAIN_SHORTCUTS if ns[name] is not None}
    if ns.deterministic:
        train["deterministic"] = True
    return PretrainJob(
        objective=ns.objective,
        model=config_from(ModelConfig, ns, "model"),
        recipe=config_from(ObjectiveConfig, ns, "recipe"),
        train=config_from(TrainConfig, ns, "train", **train),
        preset=ns.preset,
    )


def run_pretrain(ns: Namespace) -> None:
    from electra.pretrain import describe, run_pretraining

    job = job_from(ns)
    if ns.dry_run:
        report = describe(job, ns.data)
        if ns.json:
            print(json.dumps(report))
        else:
            print(
                f"discriminator parameters: {report['discriminator_parameters']:,}\n"
                f"generator parameters:     {report['generator_parameters']:,}"
            )
        return
    if ns.resume and ns.out is not None:
        from electra.train.resume import check_resumable

        check_resumable(ns.out)  # before asking for --data, which a run to resume records
    if ns.data is None or ns.out is None:
        raise ElectraError("pretrain needs --data (a prepared folder) and --out (the run folder)")
    out = run_pretraining(job, ns.data, ns.out, resume=ns.resume, progress=not ns.no_progress, init=ns.init)
    from electra.train.distributed import from_environment

    if from_environment().is_main:
        print(f"done: models in {out}", file=sys.stderr)


# ---------------------------------------------------------------- validate


def validate_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="electra validate", description="Judge a generator + discriminator pair.")
    parser.add_argument("--model", type=Path, required=True, help="run, checkpoint or shipped-pair folder")
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        help="a prepared folder, or raw text files/folders (tokenized with the model's tokenizer)",
    )
    parser.add_argument("--max-examples", type=int, default=4000, help="judge at most this many examples")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per forward pass")
    parser.add_argument("--seed", type=int, default=0, help="seeds which tokens are masked and what is sampled")
    parser.add_argument("--device", type=str, default="cpu", help="'cpu', 'cuda', 'cuda:N' or 'auto'")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run_validate(ns: Namespace) -> None:
    from electra.commands.validate import validate

    result = validate(
        ns.model, ns.data, batch_size=ns.batch_size, max_examples=ns.max_examples, seed=ns.seed, device=ns.device
    )
    if ns.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:16s} {value:.4f}" if isinstance(value, float) else f"{key:16s} {value}")


# ---------------------------------------------------------------- demo


def demo_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="electra demo", description="Prepare the built-in corpus, pretrain a tiny ELECTRA live, show detections."
    )
    parser.add_argument(
        "--out", type=Optional[Path], default=None, help="keep the demo run here (default: a temp folder)"
    )
    parser.add_argument("--minutes", type=float, default=4.0, help="live pretraining budget")
    parser.add_argument("--sentence", type=Optional[str], default=None, help="sentence to corrupt and inspect")
    parser.add_argument("--shipped-model-path", action="store_true", help="print the shipped pair's folder and exit")
    return parser


def run_demo(ns: Namespace) -> None:
    from electra.commands import demo

    if ns.shipped_model_path:
        print(demo.shipped_pair_path())
        return
    demo.run(out=ns.out, minutes=ns.minutes, sentence=ns.sentence)


# ---------------------------------------------------------------- finetune, evaluate, predict


def finetune_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="electra finetune", description="Fine-tune a discriminator on a labelled task.")
    parser.add_argument("--config", action=ActionConfigFile, help="YAML with the options below")
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="pretraining run (ELECTRA: its discriminator; MLM: its mlm/ model), checkpoint, "
        "discriminator or shipped-pair folder, or an ELECTRA / BERT encoder folder; "
        "a pair's generator is refused",
    )
    parser.add_argument(
        "--task",
        type=str,
        required=True,
        help="classification, pair-classification, regression, tagging, qa, or a GLUE name "
        "(cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte)",
    )
    parser.add_argument(
        "--data",
        type=str,
        required=True,
        help="folder with train/dev/test files, a training file, or a Hugging Face "
        "datasets name such as glue/sst2 (needs 'datasets' and the network)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (results.json, seed-N/)")
    parser.add_argument("--seeds", type=str, default="1", help="comma-separated fine-tuning seeds, e.g. 1,2,3")
    parser.add_argument(
        "--init",
        choices=["pretrained", "random", "data"],
        default="pretrained",
        help="'random': same architecture from fresh weights (the no-pretraining baseline); 'data': fresh "
        "weights whose token table starts from --token-vectors (the data-initialised, not pretrained, "
        "baseline of a model pretrained with --recipe.token_vectors)",
    )
    parser.add_argument(
        "--token-vectors",
        type=Optional[Path],
        default=None,
        help="with --init data: the folder prepared with 'electra prepare --token-vectors N'",
    )
    parser.add_argument(
        "--text-columns",
        type=Optional[str],
        default=None,
        help="comma-separated text column names (default: sentence / sentence1,sentence2 / ...)",
    )
    parser.add_argument("--label-column", type=Optional[str], default=None, help="label column name")
    parser.add_argument(
        "--tagging-scheme",
        choices=["auto", "span", "token"],
        default="auto",
        help="tagging: score entity spans (BIO/BIOES) or token accuracy; auto detects",
    )
    parser.add_argument(
        "--token-column", type=Optional[int], default=None, help="CoNLL: index of the word column (default 0)"
    )
    parser.add_argument(
        "--tag-column",
        type=Optional[int],
        default=None,
        help="CoNLL: index of the tag column (default -1, the last; CoNLL-2003 POS: 1)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier fine-tuning run in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_options(parser, FinetuneConfig)
    return parser


def run_finetune(ns: Namespace) -> None:
    from electra.finetune.run import FinetuneJob, finetune

    job = FinetuneJob(
        model=ns.model,
        task=ns.task,
        data=ns.data,
        out=ns.out,
        seeds=_int_list(ns.seeds, "seeds"),
        init=ns.init,
        token_vectors=ns.token_vectors,
        settings=config_from(FinetuneConfig, ns),
        text_columns=_name_list(ns.text_columns),
        label_column=ns.label_column,
        tagging_scheme=ns.tagging_scheme,
        overwrite=ns.overwrite,
        token_column=ns.token_column,
        tag_column=ns.tag_column,
    )
    results = finetune(job, progress=not ns.no_progress)
    print(
        json.dumps(
            {
                k: results[k]
                for k in ("task", "init", "seeds", "main_metric", "dev", "test", "best_seed")
                if k in results
            },
            indent=2,
        )
    )


def model_data_parser(prog: str, description: str, data_help: str) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="a fine-tuning run folder (its best seed is used), one of its seed-N folders, or an exported "
        "folder: a fine-tuned transformers ELECTRA folder (electra export's output, or anyone's "
        "ElectraForSequenceClassification / ElectraForTokenClassification / ElectraForQuestionAnswering)",
    )
    parser.add_argument("--data", type=Path, required=True, help=data_help)
    parser.add_argument("--out", type=Optional[Path], default=None, help="write the result here (default: stdout)")
    parser.add_argument("--device", type=str, default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', ...")
    parser.add_argument(
        "--text-columns",
        type=Optional[str],
        default=None,
        help="comma-separated text column names (default: those the model was fine-tuned with)",
    )
    parser.add_argument(
        "--label-column", type=Optional[str], default=None, help="label column name (tagging JSONL: the tag key)"
    )
    parser.add_argument("--token-column", type=Optional[int], default=None, help="CoNLL: index of the word column")
    parser.add_argument("--tag-column", type=Optional[int], default=None, help="CoNLL: index of the tag column")
    return parser


EVALUATE_DATA_HELP = "a labelled TSV / CSV / JSONL / CoNLL / SQuAD JSON file"
PREDICT_DATA_HELP = (
    "a TSV / CSV / JSONL / CoNLL / SQuAD JSON file; for a sentence model also plain text "
    "(.txt: one example a line, a tab between a pair's texts)"
)


def _columns(ns: Namespace):
    from electra.finetune.run import Columns

    return Columns(_name_list(ns.text_columns), ns.label_column, ns.token_column, ns.tag_column)


def run_evaluate(ns: Namespace) -> None:
    from electra.finetune.run import evaluate_file, output_file, write_output

    out = output_file(ns.out)
    result = evaluate_file(ns.model, ns.data, ns.device, _columns(ns))
    if out is not None:
        write_output(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def run_predict(ns: Namespace) -> None:
    from electra.finetune.run import predict_file

    count = predict_file(ns.model, ns.data, ns.out, ns.device, _columns(ns))
    print(f"{count} predictions" + (f" written to {ns.out}" if ns.out else ""), file=sys.stderr)


def _int_list(text: str, name: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ElectraError(f"invalid --{name} {text!r}: give comma-separated integers, e.g. 1,2,3") from exc


def _name_list(text: str | None) -> tuple[str, ...] | None:
    return tuple(part.strip() for part in text.split(",") if part.strip()) if text else None


# ---------------------------------------------------------------- export


def export_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="electra export", description="Write a folder that transformers loads with from_pretrained."
    )
    parser.add_argument(
        "src", type=Path, help="pretraining run / model pair / checkpoint, fine-tuning run, or model folder"
    )
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument(
        "--part",
        choices=["discriminator", "generator"],
        default="discriminator",
        help="which network of a pretraining run (a generator is exported only when asked for)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier export in OUT (a folder holding anything else is never written into)",
    )
    return parser


def run_export(ns: Namespace) -> None:
    from electra.commands.export import export

    folder = export(ns.src, ns.out, ns.part, ns.overwrite)
    print(f"exported {folder} -> {ns.out}", file=sys.stderr)


# ---------------------------------------------------------------- bench


def bench_parser() -> ArgumentParser:
    from electra.commands.bench import BenchConfig

    parser = ArgumentParser(
        prog="electra bench", description="Time our pretraining step against transformers' ELECTRA classes."
    )
    add_config_options(
        parser,
        BenchConfig,
        skip=("compile", "memory"),
        notes={"preset": f"It sets {preset_fields(('model', 'recipe'))}"},
    )
    parser.add_argument("--compile", action="store_true", help="time our step under torch.compile")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object (last line)")
    parser.add_argument("--out", type=Optional[Path], default=None, help="also write the JSON to this file")
    return parser


def run_bench(ns: Namespace) -> None:
    from electra.commands.bench import BenchConfig, main

    cfg = config_from(BenchConfig, ns, compile=ns.compile, memory=not ns.no_memory)
    main(cfg, as_json=ns.json, out=ns.out)


# ---------------------------------------------------------------- detect / corrupt


def scores_parser(prog: str, description: str, model_help: str) -> ArgumentParser:
    """Options shared by ``detect`` and ``corrupt``: the text, the model and how scores are shown."""
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("text", help="the text to look at")
    parser.add_argument("--model", type=Path, required=True, help=model_help)
    parser.add_argument("--json", action="store_true", help="print a JSON list of {token, p_replaced, ...}")
    parser.add_argument("--html", type=Optional[Path], default=None, help="also write a self-contained HTML heat-map")
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="shade tokens in the terminal (auto: when stdout is a terminal)",
    )
    return parser


def detect_parser() -> ArgumentParser:
    return scores_parser(
        "electra detect",
        "Show the discriminator's P(replaced) per token.",
        "discriminator: a run, checkpoint, pair or model folder",
    )


def corrupt_parser() -> ArgumentParser:
    parser = scores_parser(
        "electra corrupt",
        "Corrupt a text with the generator; score it.",
        "generator + discriminator pair: a run, checkpoint or the shipped pair",
    )
    parser.add_argument("--seed", type=int, default=0, help="which tokens are replaced, and by what")
    parser.add_argument("--mask-prob", type=float, default=0.15, help="share of tokens the generator replaces")
    return parser


def run_detect(ns: Namespace) -> None:
    from electra.commands.detect import detect, load_detector

    discriminator, tokenizer = load_detector(ns.model)
    _show_scores(ns, detect(discriminator, tokenizer, ns.text), f"electra detect: {ns.model}")


def run_corrupt(ns: Namespace) -> None:
    from electra.commands.detect import corrupt
    from electra.commands.validate import load_pair

    if not 0 < ns.mask_prob < 1:
        raise ElectraError(f"--mask-prob must be in (0, 1), got {ns.mask_prob}")
    _show_scores(ns, corrupt(load_pair(ns.model), ns.text, ns.seed, ns.mask_prob), f"electra corrupt: {ns.model}")


def _show_scores(ns: Namespace, scores, title: str) -> None:
    from electra.commands.detect import as_json, html_page, terminal_table
    from electra.files import write_text_atomic

    if ns.html is not None:
        write_text_atomic(ns.html, html_page(scores, title))
    if ns.json:
        print(json.dumps(as_json(scores)))
    else:
        color = ns.color == "always" or (ns.color == "auto" and sys.stdout.isatty())
        print(terminal_table(scores, color))


# ---------------------------------------------------------------- plot


def plot_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="electra plot", description="PNG training curves from a run's metrics.jsonl.")
    parser.add_argument("run", type=Path, help="run folder of 'electra pretrain'")
    parser.add_argument("--out", type=Optional[Path], default=None, help="folder for the PNGs (default RUN/plots)")
    return parser


def run_plot(ns: Namespace) -> None:
    from electra.commands.plot import plot_run

    for path in plot_run(ns.run, ns.out):
        print(path)


# ---------------------------------------------------------------- compare


def compare_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="electra compare", description="Pretrain ELECTRA and MLM on the same budget, fine-tune both, report."
    )
    parser.add_argument("--data", type=Path, required=True, help="folder written by 'electra prepare'")
    parser.add_argument("--task-data", type=str, required=True, help="the task's data (as for electra finetune)")
    parser.add_argument("--task", type=str, required=True, help="task kind or GLUE name (as for electra finetune)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (report.md, results.json, plots)")
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="tiny",
        help=f"model size and pretraining defaults of every arm: it sets {preset_fields()} ('electra pretrain "
        "--preset NAME --help' shows the values); the budget, --device, --seed, --dtype, --init-scheme and "
        "--generator-* below override theirs",
    )
    parser.add_argument(
        "--budget",
        type=float,
        required=True,
        help="per objective: model FLOPs (default unit) or minutes (--budget-unit minutes)",
    )
    parser.add_argument(
        "--budget-unit",
        choices=["flops", "minutes"],
        default="flops",
        help="what --budget counts: model FLOPs or minutes",
    )
    parser.add_argument("--fractions", type=str, default="0.25,0.5,1", help="budget fractions to fine-tune at")
    parser.add_argument(
        "--arms",
        type=str,
        default="electra,mlm",
        help="objectives to compare, comma-separated: " + ", ".join(OBJECTIVES) + " (docs/objectives.md)",
    )
    parser.add_argument("--seeds", type=str, default="1,2,3", help="fine-tuning seeds")
    parser.add_argument(
        "--device", type=str, default="auto", help="pretraining and fine-tuning device: 'auto', 'cpu', 'cuda', ..."
    )
    parser.add_argument("--seed", type=int, default=1234, help="pretraining seed")
    parser.add_argument(
        "--dtype",
        choices=list(DTYPES),
        default="fp32",
        help="pretraining autocast dtype of both arms (bf16: GPUs, CPUs with AVX-512 bf16)",
    )
    parser.add_argument(
        "--init-scheme",
        choices=list(INIT_SCHEMES),
        default=None,
        help="starting weights of every arm and of the random-init baseline (default: the preset's; "
        "'local': see docs/small-budgets.md)",
    )
    parser.add_argument(
        "--generator-fraction",
        type=Optional[float],
        default=None,
        help="ELECTRA arms: generator width / discriminator width (default: the preset's)",
    )
    parser.add_argument(
        "--generator-layers",
        type=Optional[int],
        default=None,
        help="ELECTRA arms: generator depth (default: the preset's)",
    )
    parser.add_argument(
        "--embedding-norm-cap",
        type=Optional[float],
        default=None,
        help="every arm: cap the token-table rows at this norm after each step (recipe.embedding_norm_cap; "
        "default: the preset's; 0: no cap)",
    )
    parser.add_argument(
        "--embedding-sharing",
        choices=list(SHARING),
        default=None,
        help="ELECTRA arms: recipe.embedding_sharing ('gdes': DeBERTa-v3's gradient-disentangled sharing; "
        "default: the preset's)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_options(parser, FinetuneConfig, skip=("device",))
    return parser


def run_compare(ns: Namespace) -> None:
    from electra.commands.compare import CompareJob
    from electra.commands.compare import run_compare as compare

    try:
        fractions = tuple(float(x) for x in ns.fractions.split(","))
    except ValueError as exc:
        raise ElectraError(f"invalid --fractions {ns.fractions!r}: comma-separated numbers") from exc
    settings = config_from(FinetuneConfig, ns, skip=("device",))
    job = CompareJob(
        data=ns.data,
        task_data=ns.task_data,
        task=ns.task,
        out=ns.out,
        preset=ns.preset,
        budget=ns.budget,
        unit=ns.budget_unit,
        fractions=fractions,
        arms=tuple(_name_list(ns.arms) or ()),
        seeds=_int_list(ns.seeds, "seeds"),
        finetune=settings,
        device=ns.device,
        seed=ns.seed,
        dtype=ns.dtype,
        init_scheme=ns.init_scheme,
        generator_fraction=ns.generator_fraction,
        generator_layers=ns.generator_layers,
        embedding_norm_cap=ns.embedding_norm_cap,
        embedding_sharing=ns.embedding_sharing,
    )
    compare(job, progress=not ns.no_progress)
    print(f"report: {ns.out / 'report.md'}", file=sys.stderr)


# ---------------------------------------------------------------- glue


def glue_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="electra glue", description="Fine-tune on every GLUE task of a download; report the paper's dev table."
    )
    parser.add_argument("--model", type=Path, required=True, help="the model to fine-tune (as for electra finetune)")
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="the GLUE folder: CoLA/, SST-2/, MRPC/, QQP/, STS-B/, MNLI/, QNLI/, RTE/ as the official "
        "download names them (missing ones are skipped; WNLI is never run)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (results.json, report.md, one fine-tuning run per task); a rerun skips finished tasks",
    )
    parser.add_argument(
        "--tasks",
        type=Optional[str],
        default=None,
        help="comma-separated tasks (cola,sst2,mrpc,qqp,stsb,mnli,qnli,rte; default: all found)",
    )
    parser.add_argument("--seeds", type=str, default="1,2,3", help="fine-tuning seeds per task (the paper: 10)")
    parser.add_argument(
        "--init",
        choices=["pretrained", "random"],
        default="pretrained",
        help="'random': the same architecture from fresh weights (the no-pretraining baseline)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_options(parser, FinetuneConfig)
    return parser


def run_glue(ns: Namespace) -> None:
    from electra.commands.glue import GlueJob
    from electra.commands.glue import run_glue as glue

    job = GlueJob(
        model=ns.model,
        data=ns.data,
        out=ns.out,
        tasks=_name_list(ns.tasks),
        seeds=_int_list(ns.seeds, "seeds"),
        init=ns.init,
        settings=config_from(FinetuneConfig, ns),
    )
    glue(job, progress=not ns.no_progress)
    print((ns.out / "report.md").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- dispatch


COMMANDS: dict[str, tuple[Callable[[list[str]], ArgumentParser], Callable[[Namespace], None]]] = {
    "prepare": (lambda argv: prepare_parser(), run_prepare),
    "pretrain": (pretrain_command_parser, run_pretrain),
    "validate": (lambda argv: validate_parser(), run_validate),
    "demo": (lambda argv: demo_parser(), run_demo),
    "finetune": (lambda argv: finetune_parser(), run_finetune),
    "evaluate": (
        lambda argv: model_data_parser(
            "electra evaluate", "Score a fine-tuned model on a labelled file.", EVALUATE_DATA_HELP
        ),
        run_evaluate,
    ),
    "predict": (
        lambda argv: model_data_parser("electra predict", "Predict with a fine-tuned model.", PREDICT_DATA_HELP),
        run_predict,
    ),
    "export": (lambda argv: export_parser(), run_export),
    "bench": (lambda argv: bench_parser(), run_bench),
    "detect": (lambda argv: detect_parser(), run_detect),
    "corrupt": (lambda argv: corrupt_parser(), run_corrupt),
    "plot": (lambda argv: plot_parser(), run_plot),
    "compare": (lambda argv: compare_parser(), run_compare),
    "glue": (lambda argv: glue_parser(), run_glue),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    help_asked = argv[:1] in (["-h"], ["--help"])
    if help_asked or not argv or argv[0] not in COMMANDS:
        unknown_command = bool(argv) and not help_asked
        print(COMMANDS_HELP, file=sys.stderr if unknown_command else sys.stdout)
        return 0 if help_asked else 2
    make_parser, run = COMMANDS[argv[0]]
    try:
        parser = make_parser(argv[1:])
        run(parser.parse_args(argv[1:]))
    except ElectraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Preempted as exc:  # SIGTERM: checkpoint written, a clean stop
        print(str(exc), file=sys.stderr)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
