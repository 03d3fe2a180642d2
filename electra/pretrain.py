"""Pretraining as a library call: prepared data + configs -> trained networks under ``out``.

``electra pretrain`` is a thin wrapper over ``run_pretraining``; tests and ``electra demo``
call it directly. A run records its configuration and the fingerprint of its data in
``RUN/run.json``; a resume is checked against both (:mod:`electra.train.resume`) before anything
is written.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from electra.config import SCHEMA_VERSION, ModelConfig, ObjectiveConfig, TrainConfig
from electra.data.loader import BatchStream, PretrainData, load_meta
from electra.data.vectors import read_token_vectors
from electra.errors import ConfigError, ElectraError, Preempted
from electra.files import make_folder, write_json
from electra.flops import slot_share
from electra.model.io import load_encoder, load_state, network_folder, read_config, read_weights, refuse_generator
from electra.model.networks import count_parameters
from electra.model.vectors import freeze_token_tables, place_token_vectors, token_tables
from electra.objectives import OBJECTIVES, Objective, objective_class
from electra.runtime import preserved_torch_state, resolve_device
from electra.tokenizer import SpecialIds
from electra.train import checkpoint, distributed, sinks
from electra.train import resume as resume_checks
from electra.train.loop import Trainer
from electra.train.optim import warmup_warning

BERT_SPECIAL_IDS = SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)
"""bert-base-uncased's special ids, used when no data (and so no tokenizer) is given."""

DEFAULT_VOCAB_SIZE = ModelConfig().vocab_size
"""BERT's vocabulary size, which every preset keeps: a job with this size takes the data's
vocabulary; any other size is one the user gave, and must be the data's."""


@dataclass
class PretrainJob:
    """Everything that defines a pretraining run."""

    objective: str
    model: ModelConfig
    recipe: ObjectiveConfig
    train: TrainConfig
    preset: str | None = None
    """The preset the defaults came from (recorded in run.json; a resume with another is refused)."""

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError("objective", f"{self.objective!r}; choose one of {', '.join(OBJECTIVES)}")

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "objective": self.objective,
            "preset": self.preset,
            "model": dataclasses.asdict(self.model),
            "recipe": dataclasses.asdict(self.recipe),
            "train": dataclasses.asdict(self.train),
        }


def build(job: PretrainJob, special: SpecialIds, max_seq_len: int) -> Objective:
    """The objective module (networks included) for ``job``; seeds initialisation first."""
    if max_seq_len > job.model.max_position_embeddings:
        raise ConfigError(
            "model.max_position_embeddings", f"{job.model.max_position_embeddings} < data max_seq_len {max_seq_len}"
        )
    torch.manual_seed(job.train.seed)
    return objective_class(job.objective).build(job.model, job.recipe, special, max_seq_len)


def describe(job: PretrainJob, data_dir: Path | None = None) -> dict:
    """Parameter counts of the networks ``job`` builds (for ``--dry-run``): at the vocabulary and
    sequence length of the prepared data in ``data_dir`` when given, else at BERT's."""
    special, max_seq_len = BERT_SPECIAL_IDS, 128
    if data_dir is not None:
        meta = load_meta(data_dir)
        job = data_job(job, meta)
        special, max_seq_len = SpecialIds(**meta["special_ids"]), int(meta["max_seq_len"])
    objective = build(job, special, max_seq_len)
    networks = objective.networks()
    main = networks[objective.encoder]
    report = {
        "objective": job.objective,
        "discriminator_parameters": count_parameters(main),
        "generator_parameters": count_parameters(networks["generator"]) if "generator" in networks else 0,
        "total_parameters": count_parameters(objective),
        "model": dataclasses.asdict(job.model),
    }
    if "generator" in networks:
        report["generator_model"] = dataclasses.asdict(networks["generator"].config)
    return report


def flops_counter(job: PretrainJob):
    """Model FLOPs of one micro-batch of ``rows`` x ``width`` (``electra.flops``), memoised by width."""
    cache: dict[int, object] = {}

    def flops_of(rows: int, width: int) -> float:
        if width not in cache:
            cache[width] = objective_class(job.objective).step_flops(job.model, job.recipe, width)
        share = slot_share(job.recipe, width)
        return cache[width].total(positions=rows * width, slots=rows * width * share)

    return flops_of


def data_job(job: PretrainJob, meta: dict) -> PretrainJob:
    """Fit ``job`` to the prepared data (its ``meta``): the vocabulary size comes from its tokenizer.
    A size the user gave (anything but the presets' :data:`DEFAULT_VOCAB_SIZE`) must be the data's."""
    vocab_size = int(meta["vocab_size"])
    if job.model.vocab_size not in (DEFAULT_VOCAB_SIZE, vocab_size):
        raise ElectraError(
            f"--model.vocab_size {job.model.vocab_size} differs from the prepared data's "
            f"vocabulary of {vocab_size} ids: leave the option out (the data sets it), or "
            f"prepare the text with a {job.model.vocab_size}-id tokenizer"
        )
    model = dataclasses.replace(job.model, vocab_size=vocab_size, pad_token_id=int(meta["special_ids"]["pad"]))
    return dataclasses.replace(job, model=model)


def is_network_folder(init: Path) -> bool:
    """One network (ours, or an HF ELECTRA / BERT folder) rather than a run or a pair."""
    return (init / "config.json").is_file()


def encoder_job(job: PretrainJob, init: Path, meta: dict) -> PretrainJob:
    """The job with the shape of the network in ``init`` (the encoder folder itself, or the
    discriminator / MLM model of a run, pair or checkpoint); its vocabulary must be the data's."""
    init = network_folder(init)
    refuse_generator(init, "start pretraining from")
    model = ModelConfig.from_dict(read_config(init), source=str(init / "config.json"))
    if model.vocab_size != int(meta["vocab_size"]):
        raise ElectraError(
            f"{init}: vocabulary of {model.vocab_size} ids, but the prepared data has "
            f"{meta['vocab_size']}; prepare the text with --tokenizer {init}"
        )
    return dataclasses.replace(job, model=dataclasses.replace(model, pad_token_id=int(meta["special_ids"]["pad"])))


def fitted_job(job: PretrainJob, meta: dict, init: Path | None, continuing: bool) -> PretrainJob:
    """``job`` fitted to the data's vocabulary and, with ``init``, to the shape of that network. A
    continued run whose ``init`` folder is gone keeps its recorded shape (its checkpoint holds
    the weights)."""
    job = data_job(job, meta)
    if init is None or (continuing and not Path(init).exists()):
        return job
    return encoder_job(job, Path(init), meta)


def load_initial_weights(objective: Objective, init: Path) -> None:
    """Start from the networks saved in ``init``: a run, checkpoint or model-pair folder (every
    network loaded exactly), or one encoder folder (ours, HF ELECTRA or BERT), which initialises
    the discriminator (or the MLM model) and the embeddings (every network's, when the pair does
    not share them: ``E_delta`` starts at zero under 'gdes'); the generator's own layers start
    fresh.

    A pair whose networks hold different embedding tables (saved by a 'gdes' or 'none' run, or by
    two separate models) loaded into a pair that shares one module keeps the encoder's tables,
    with a warning.

    Only weights are taken: optimizer and schedule start fresh (continued pretraining).
    """
    networks = objective.networks()
    encoder = networks[objective.encoder]
    if is_network_folder(init):
        refuse_generator(init, "start pretraining from")
        load_encoder(encoder, init)
        for network in networks.values():
            if network.electra.embeddings is not encoder.electra.embeddings:
                network.electra.embeddings.load_state_dict(encoder.electra.embeddings.state_dict())
        return
    for name in networks:
        if not (init / name).is_dir():
            raise ElectraError(f"{init}: no '{name}' folder to initialise the {name} from")
    states = {name: read_weights(init / name) for name in networks}
    warn_if_shared_tables_differ(networks, states, objective.encoder, init)
    for name in sorted(networks, key=lambda n: n == objective.encoder):  # the encoder last: its shared tables win
        load_state(networks[name], states[name], init / name / "model.safetensors")


def warn_if_shared_tables_differ(networks: dict, states: dict, encoder: str, init: Path) -> None:
    """Warn when networks that share one embedding module come with different tables."""
    key = "electra.embeddings.word_embeddings.weight"
    table = networks[encoder].electra.embeddings
    for name, network in networks.items():
        shared = name != encoder and network.electra.embeddings is table
        if shared and not torch.equal(states[name][key], states[encoder][key]):  # False for other shapes too
            print(
                f"warning: {init}: the {name}'s embedding tables differ from the {encoder}'s, and this run "
                f"shares one set (recipe.embedding_sharing 'es'): both networks start from the {encoder}'s. "
                f"To keep both, pretrain with --recipe.embedding_sharing gdes or none",
                file=sys.stderr,
            )


def start_token_tables(objective: Objective, job: PretrainJob, data_dir: Path, fresh: bool) -> None:
    """The recipe's token-table options: a ``fresh`` run's tables start from the token vectors
    prepared in ``data_dir`` (``recipe.token_vectors``), and every run's stay frozen
    (``recipe.freeze_token_table``; a resumed one builds the same optimizer)."""
    networks = objective.networks().values()
    if job.recipe.token_vectors and fresh:
        place_token_vectors(token_tables(networks), read_token_vectors(data_dir), job.model)
    if job.recipe.freeze_token_table:
        freeze_token_tables(networks)


@preserved_torch_state()  # seeds, deterministic kernels, threads: as they were before the call
def run_pretraining(
    job: PretrainJob,
    data_dir: Path,
    out: Path,
    resume: bool = False,
    progress: bool = True,
    init: Path | None = None,
    snapshots: dict[str, float] | None = None,
) -> Path:
    """Pretrain ``job`` on ``data_dir``, writing metrics, checkpoints and final models to ``out``.

    ``resume`` continues from the newest good checkpoint under ``out`` (from step 0 when the run
    has none yet); the data must be the run's (same fingerprint) and ``job`` the run's
    configuration but for the settings :data:`electra.train.resume.CHANGEABLE`, else
    ``ElectraError`` before anything is written. Otherwise ``init`` (optional) gives starting
    weights. SIGTERM during training writes a checkpoint and raises ``Preempted`` (no final
    models); SIGINT does the same, then raises ``KeyboardInterrupt``.
    """
    sinks.require(job.train.loggers)  # a tracker's missing package is reported before any work
    resume_checks.check_out(out, resume)
    data = PretrainData(data_dir)  # reads and checks meta.json and the shards once
    meta = data.meta
    fingerprint = resume_checks.data_fingerprint(Path(data_dir), meta)
    continuing = resume and bool(checkpoint.list_checkpoints(checkpoint.checkpoint_dir(out)))
    if resume:
        resume_checks.check_resumable(out)
        resume_checks.check_same_data(out, Path(data_dir), fingerprint)
    job = fitted_job(job, meta, init, continuing)
    if job.recipe.token_vectors and init is not None:
        raise ConfigError(
            "recipe.token_vectors",
            "starts the token table from the data's vectors, and --init starts it from a model: choose one",
        )
    if resume:
        resume_checks.check_same_configuration(out, {**job.to_dict(), "init": None if init is None else str(init)})
        resume_checks.check_step_budget(out, job.train.max_steps)
    special = SpecialIds(**meta["special_ids"])
    objective = build(job, special, int(meta["max_seq_len"]))
    if init is not None and not continuing:
        load_initial_weights(objective, Path(init))
    start_token_tables(objective, job, Path(data_dir), fresh=init is None and not continuing)
    procs = distributed.from_environment()
    device = distributed.setup(procs, resolve_device(job.train.device))
    warning = warmup_warning(job.train)
    if warning is not None and procs.is_main:
        print(f"warning: {warning}", file=sys.stderr)
    micro_batch = job.train.batch_size // job.train.grad_accum
    stream = BatchStream(data, micro_batch, seed=job.train.seed, rank=procs.rank, world_size=procs.world_size)
    make_folder(out)
    trainer = Trainer(
        objective,
        stream,
        job.train,
        out,
        device,
        tokenizer_dir=data_dir,
        progress=progress,
        procs=procs,
        full_width=data.max_seq_len,
        flops_of=flops_counter(job),
        snapshots=snapshots,
    )
    trainer.data_fingerprint = fingerprint
    if resume and not continuing and procs.is_main:
        print(f"note: {out} holds no checkpoint yet; its run starts from step 0", file=sys.stderr)
    if not (continuing and trainer.resume()):
        if continuing:  # every checkpoint failed its check or its loading (checked before: none without --resume)
            raise ElectraError(
                f"{out}: no checkpoint could be loaded (see the warnings above); nothing was overwritten"
            )
        if procs.is_main:
            (out / "metrics.jsonl").unlink(missing_ok=True)
    if procs.is_main:
        write_json(
            out / resume_checks.RUN_FILE,
            {
                **job.to_dict(),
                "data": str(data_dir),
                "data_fingerprint": fingerprint,
                "max_seq_len": int(meta["max_seq_len"]),
                "init": None if init is None else str(init),
                "processes": procs.world_size,
            },
        )
    try:
        status = trainer.fit()
    finally:
        step = trainer.step
        # DDP / FSDP keep their own reference to the process group: release them first, or gloo's
        # worker threads outlive the group and can abort the process at interpreter exit
        del trainer, objective
        gc.collect()
        distributed.shutdown(procs)
    if status == "SIGINT":
        raise KeyboardInterrupt  # checkpoint written; the command exits 130 like any interrupted one
    if status == "SIGTERM":
        raise Preempted(f"{out}: stopped by SIGTERM at step {step}; checkpoint written, continue with --resume")
    return out
