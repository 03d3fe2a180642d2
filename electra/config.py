"""Typed configuration: model shapes, objectives, training, data preparation, and presets.

Field names of :class:`ModelConfig` are those of ``transformers.ElectraConfig`` so that a
checkpoint's ``config.json`` reads the same in both worlds. Presets are code: ``small``,
``base`` and ``large`` follow ``docs/recipe.md`` (paper Table 6); ``tiny`` is this project's own
size for CPU tests and demos. Every dataclass validates itself in ``__post_init__`` and names
the offending field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from electra.errors import ConfigError, ElectraError

SCHEMA_VERSION = 1

INIT_SCHEMES = ("bert", "local")
"""Starting-weight schemes of ``ModelConfig.init_scheme``."""

SHARING = ("es", "gdes", "none")
"""How a generator and its discriminator share embeddings (``ObjectiveConfig.embedding_sharing``)."""

DTYPES = ("fp32", "bf16")
"""Autocast dtypes a training step can run under (the values of ``TrainConfig.dtype``)."""

LOGGERS = ("jsonl", "tensorboard", "wandb", "mlflow")
"""Metric sinks a run can write to (``electra.train.sinks``; the values of ``TrainConfig.loggers``)."""


def _require(ok: bool, name: str, message: str) -> None:
    """Validation of one field: a :class:`ConfigError` naming field ``name`` unless ``ok``."""
    if not ok:
        raise ConfigError(name, message)


def _check_loggers(value: str) -> None:
    """``loggers``: a comma-separated list of distinct names from :data:`LOGGERS`."""
    chosen = [name.strip() for name in str(value).split(",") if name.strip()]
    unknown = [name for name in chosen if name not in LOGGERS]
    _require(not unknown, "loggers", f"unknown logger(s) {', '.join(unknown)}; choose from {', '.join(LOGGERS)}")
    _require(len(set(chosen)) == len(chosen), "loggers", f"a logger is named twice in {value!r}")


def _is_device(name: str) -> bool:
    import torch

    try:
        torch.device(name)
    except (RuntimeError, TypeError):
        return False
    return True


@dataclass
class ModelConfig:
    """Shape of one BERT-style encoder (a discriminator, a generator or an MLM model)."""

    vocab_size: int = 30522
    """Number of WordPiece ids; set from the tokenizer when data is prepared."""
    embedding_size: int = 128
    """Width of the (shared) embeddings; projected to ``hidden_size`` when they differ."""
    hidden_size: int = 256
    """Width of the transformer layers."""
    num_hidden_layers: int = 12
    """Number of transformer layers."""
    num_attention_heads: int = 4
    """Attention heads per layer; must divide ``hidden_size``."""
    intermediate_size: int = 1024
    """Width of the feed-forward block."""
    hidden_dropout_prob: float = 0.1
    """Dropout on embeddings and residual branches."""
    attention_probs_dropout_prob: float = 0.1
    """Dropout on attention probabilities."""
    max_position_embeddings: int = 512
    """Longest sequence the position table covers."""
    type_vocab_size: int = 2
    """Number of segment (token type) ids."""
    initializer_range: float = 0.02
    """Standard deviation of the normal initialisation."""
    layer_norm_eps: float = 1e-12
    """LayerNorm epsilon."""
    pad_token_id: int = 0
    """Id of ``[PAD]``."""
    init_scheme: Literal["bert", "local"] = "bert"
    """Starting weights: 'bert' (normal(0, initializer_range) everywhere) or 'local' (the same, but
    the first layer's heads start reading the previous / next token through a sinusoidal part of
    the position table; ``electra.model.init``). Data-free; recorded in ``config.json`` so that a
    random-initialisation baseline starts the same way. ``transformers`` ignores it."""

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "embedding_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            _require(isinstance(value, int) and value > 0, name, f"must be a positive integer, got {value!r}")
        _require(
            self.hidden_size % self.num_attention_heads == 0,
            "num_attention_heads",
            f"{self.num_attention_heads} does not divide hidden_size {self.hidden_size}",
        )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            _require(0.0 <= value < 1.0, name, f"must be in [0, 1), got {value!r}")
        _require(self.initializer_range > 0, "initializer_range", "must be positive")
        _require(self.layer_norm_eps > 0, "layer_norm_eps", "must be positive")
        _require(
            self.init_scheme in INIT_SCHEMES,
            "init_scheme",
            f"must be one of {', '.join(INIT_SCHEMES)}, got {self.init_scheme!r}",
        )

    def scaled(self, fraction: float, layers: int | None = None) -> ModelConfig:
        """The generator's shape: same embeddings, width/heads/FFN times ``fraction``, and
        ``layers`` layers (default: the same depth)."""
        _require(0 < fraction <= 1, "generator_fraction", f"must be in (0, 1], got {fraction!r}")
        heads = max(1, round(self.num_attention_heads * fraction))
        hidden = max(heads, round(self.hidden_size * fraction))
        hidden -= hidden % heads
        return dataclasses.replace(
            self,
            hidden_size=hidden,
            num_attention_heads=heads,
            intermediate_size=max(1, round(self.intermediate_size * fraction)),
            num_hidden_layers=layers or self.num_hidden_layers,
        )

    def to_hf_dict(self, architecture: str) -> dict[str, Any]:
        """A ``config.json`` body that ``transformers.ElectraConfig`` reads as is."""
        body = dataclasses.asdict(self)
        body.update(
            model_type="electra", architectures=[architecture], hidden_act="gelu", electra_schema_version=SCHEMA_VERSION
        )
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any], source: str = "config") -> ModelConfig:
        """Read our own or an HF ``config.json`` body; unknown keys are ignored, bad ones named."""
        names = {f.name for f in dataclasses.fields(cls)}
        act = body.get("hidden_act", "gelu")
        if act not in ("gelu", "gelu_python"):
            raise ElectraError(f"{source}: hidden_act {act!r} is not supported (only 'gelu')")
        kwargs = {k: v for k, v in body.items() if k in names}
        if "embedding_size" not in kwargs and "hidden_size" in kwargs:
            kwargs["embedding_size"] = kwargs["hidden_size"]  # BERT layout: no projection
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ElectraError(f"{source}: {exc}") from exc


@dataclass
class ObjectiveConfig:
    """Settings of the pretraining objectives (docs/recipe.md, "Objective: replaced token detection")."""

    mask_prob: float = 0.15
    """Share of real tokens selected per sequence (0.25 for Large)."""
    disc_weight: float = 50.0
    """Lambda: weight of the discriminator loss (ELECTRA only)."""
    gen_weight: float = 1.0
    """Weight of the generator's MLM loss."""
    generator_fraction: float = 0.25
    """Generator width as a fraction of the discriminator's (ELECTRA only)."""
    generator_layers: int | None = None
    """Generator depth (ELECTRA only); None: the discriminator's depth, as in the paper.
    DeBERTa-v3 uses a generator of the discriminator's width and half its depth."""
    temperature: float = 1.0
    """Sampling temperature of the generator (ELECTRA only)."""
    disallow_correct: bool = False
    """Forbid sampling the original token, so every selected position is replaced."""
    mask_token_prob: float = 0.85
    """ELECTRA: share of selected positions shown to the generator as [MASK]; the rest keep
    their token. (The MLM baseline always uses BERT's 80/10/10.)"""
    embedding_norm_cap: float | None = None
    """After every optimizer step, rows of the token embedding table longer than this are scaled
    back to it (directions kept); None: no cap. Without one, pretraining grows the rows several
    times over their starting norm (~0.18-0.23 for the presets), which slows fine-tuning
    (docs/small-budgets.md)."""

    embedding_sharing: Literal["es", "gdes", "none"] = "es"
    """How the generator and the discriminator share the embedding tables (ELECTRA-style
    objectives). 'es': one token, position and token-type table for both, trained by both losses
    (the paper). 'gdes': DeBERTa-v3's gradient-disentangled sharing: the discriminator's tables
    are ``sg(E_G) + E_delta``, so only the generator's MLM loss trains the generator's tables
    ``E_G`` and the discriminator's loss trains only ``E_delta`` (zero at the start); the
    discriminator folder holds the sum. 'none': each network owns its tables (same start)."""

    token_vectors: bool = False
    """Start the token table's word dimensions (all of them; under ``init_scheme='local'`` those the
    position sinusoids leave free) from the prepared folder's token vectors (``electra prepare
    --token-vectors``, :mod:`electra.data.vectors`), scaled to the initializer's standard
    deviation. Rows the vectors leave at zero (special and unseen pieces) keep their random start."""
    freeze_token_table: bool = False
    """Keep every network's token (word) table at its starting values: the optimizer never updates
    it, nor therefore the generator's output projection tied to it. The position and token-type
    tables still learn. Fine-tuning trains the table as usual."""

    def __post_init__(self) -> None:
        _require(0 < self.mask_prob < 1, "mask_prob", f"must be in (0, 1), got {self.mask_prob!r}")
        _require(self.disc_weight >= 0, "disc_weight", "must be >= 0")
        _require(self.gen_weight >= 0, "gen_weight", "must be >= 0")
        _require(
            0 < self.generator_fraction <= 1,
            "generator_fraction",
            f"must be in (0, 1], got {self.generator_fraction!r}",
        )
        _require(
            self.generator_layers is None or (isinstance(self.generator_layers, int) and self.generator_layers > 0),
            "generator_layers",
            f"must be a positive integer or None, got {self.generator_layers!r}",
        )
        _require(self.temperature > 0, "temperature", "must be > 0")
        _require(0 <= self.mask_token_prob <= 1, "mask_token_prob", "must be in [0, 1]")
        _require(
            self.embedding_norm_cap is None or self.embedding_norm_cap > 0,
            "embedding_norm_cap",
            f"must be > 0 or None, got {self.embedding_norm_cap!r}",
        )
        _require(
            self.embedding_sharing in SHARING,
            "embedding_sharing",
            f"must be one of {', '.join(SHARING)}, got {self.embedding_sharing!r}",
        )

    def generator_model(self, discriminator: ModelConfig) -> ModelConfig:
        """The generator's shape for a discriminator of shape ``discriminator``."""
        return discriminator.scaled(self.generator_fraction, self.generator_layers)

    def max_predictions(self, max_seq_len: int) -> int:
        """The reference cap on selected positions: ``int((mask_prob + 0.005) * max_seq_len)``."""
        return int((self.mask_prob + 0.005) * max_seq_len)


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping of a pretraining run."""

    batch_size: int = 128
    """Sequences per optimizer step (split over ``grad_accum`` micro-batches)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""
    lr: float = 5e-4
    """Peak learning rate."""
    warmup_steps: int = 10_000
    """Linear warm-up over this many optimizer steps, whatever the budget (its length in steps
    does not depend on the machine's speed); then linear decay to 0 when the budget is spent.
    The decay line falls with progress from 1 at ``warmup_steps / max_steps`` to 0 at the end;
    a time or FLOPs budget too short for the warm-up turns the rate down before its peak."""
    max_steps: int = 1_000_000
    """Optimizer steps; the step budget of the schedule. Progress (what the decay follows) is the
    largest share spent of the budgets given: ``max_steps`` and, when set, ``max_minutes`` and
    ``max_flops``, i.e. the budget that will end the run first. With ``max_steps`` alone the
    schedule is the reference's (warm-up, then decay to 0 at ``max_steps``)."""
    max_minutes: float | None = None
    """Optional budget in training minutes (over all sessions of a resumed run): training stops
    (and saves) when it is spent, and the learning rate has decayed to 0 by then. The elapsed
    time is in every checkpoint, so a resumed run continues the schedule; with several processes
    the time agreed at each ``log_every`` step drives it, so all stop at the same step."""
    max_flops: float | None = None
    """Optional budget in model FLOPs (``electra.flops``, both networks): training stops (and
    saves) once it is spent, and the learning rate has decayed to 0 by then. Each metrics row
    logs the FLOPs so far; the start of the run prints the budget's expected length in steps."""
    weight_decay: float = 0.01
    """AdamW weight decay (not applied to biases and LayerNorm)."""
    adam_beta1: float = 0.9
    """AdamW's first-moment decay."""
    adam_beta2: float = 0.999
    """AdamW's second-moment decay."""
    adam_eps: float = 1e-6
    """AdamW's epsilon (the reference's 1e-6)."""
    clip_grad_norm: float = 1.0
    """Global gradient-norm clip; 0 disables."""
    dtype: Literal["fp32", "bf16"] = "fp32"
    """Autocast dtype for the forward pass; sampling and losses stay in fp32."""
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ..."""
    fsdp: bool = False
    """Under torchrun: shard parameters, gradients and optimizer state over the processes
    (FSDP2 ``fully_shard``, one unit per transformer layer) instead of replicating them (DDP)."""
    compile: bool = False
    """Wrap the networks in torch.compile (pays off on GPU; mostly not on CPU)."""
    seed: int = 1234
    """Seeds initialisation, data order, masking, sampling and dropout."""
    log_every: int = 10
    """Optimizer steps between metrics rows."""
    save_every: int = 1000
    """Optimizer steps between checkpoints."""
    keep_checkpoints: int = 2
    """How many recent checkpoints to keep."""
    plateau_warn_steps: int = 2000
    """Warn when the discriminator is still at its always-'original' baseline after this many steps."""
    max_bad_steps: int = 20
    """Stop after this many consecutive steps with a non-finite loss or gradient (each is skipped)."""
    deterministic: bool = False
    """Bit-reproducible CPU runs: deterministic kernels, and timings kept out of metrics.jsonl
    (in timings.jsonl), so that the same seed and data give the same metrics file."""
    loggers: str = "jsonl"
    """Where metrics rows go, comma-separated: 'jsonl' (RUN/metrics.jsonl, which plot, compare and
    demo read), 'tensorboard' (RUN/tb), 'wandb', 'mlflow' (RUN/mlflow.db unless MLFLOW_TRACKING_URI
    is set). The trackers need their package (pip install tensorboard / wandb / mlflow); a missing
    one is reported before any work. Written by rank 0 only; may change on --resume."""

    def __post_init__(self) -> None:
        for name in (
            "batch_size",
            "grad_accum",
            "max_steps",
            "log_every",
            "save_every",
            "keep_checkpoints",
            "max_bad_steps",
        ):
            value = getattr(self, name)
            _require(isinstance(value, int) and value > 0, name, f"must be a positive integer, got {value!r}")
        _require(
            self.batch_size % self.grad_accum == 0,
            "grad_accum",
            f"{self.grad_accum} does not divide batch_size {self.batch_size}",
        )
        _require(self.lr > 0 and math.isfinite(self.lr), "lr", f"must be a positive number, got {self.lr!r}")
        _require(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        _require(self.max_minutes is None or self.max_minutes > 0, "max_minutes", "must be > 0")
        _require(self.max_flops is None or self.max_flops > 0, "max_flops", "must be > 0")
        _require(0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1, "adam_beta1/adam_beta2", "must be in [0, 1)")
        _require(self.dtype in DTYPES, "dtype", f"must be 'fp32' or 'bf16', got {self.dtype!r}")
        _check_loggers(self.loggers)
        _check_optimizer_fields(self)


@dataclass
class PrepareConfig:
    """How ``electra prepare`` turns text into pretraining shards (docs/recipe.md, "Pretraining data building")."""

    vocab_size: int = 30522
    """Size of the WordPiece vocabulary to train (ignored with ``tokenizer``)."""
    tokenizer: str | None = None
    """Use this ``vocab.txt`` / ``tokenizer.json`` (or a folder holding one) instead of training."""
    max_seq_len: int = 128
    """Length of every example, [CLS] and [SEP]s included."""
    short_seq_prob: float = 0.05
    """Probability that an example's target length is drawn uniformly from [5, max_seq_len]."""
    single_segment_prob: float = 0.1
    """Probability that an example has one segment instead of A/B."""
    examples_per_shard: int = 65536
    """Rows per shard file."""
    seed: int = 1234
    """Seeds the segment splits and short lengths."""

    def __post_init__(self) -> None:
        _require(self.vocab_size >= 100, "vocab_size", f"must be >= 100, got {self.vocab_size!r}")
        _require(8 <= self.max_seq_len <= 4096, "max_seq_len", f"must be in [8, 4096], got {self.max_seq_len!r}")
        _require(0 <= self.short_seq_prob <= 1, "short_seq_prob", "must be in [0, 1]")
        _require(0 <= self.single_segment_prob <= 1, "single_segment_prob", "must be in [0, 1]")
        _require(self.examples_per_shard > 0, "examples_per_shard", "must be positive")


@dataclass
class FinetuneConfig:
    """Fine-tuning hyperparameters (docs/recipe.md, "Fine-tuning"). ``None`` means: the default for
    the model's size (learning rate, layer decay) or for the task (epochs, sequence length)."""

    lr: float | None = None
    """Peak learning rate of the head; default 3e-4 / 1e-4 / 5e-5 for Small (and tiny) / Base / Large."""
    layer_decay: float | None = None
    """Layer-wise decay: the top layer gets lr x decay, embeddings lr x decay^(L+1); default 0.8 / 0.8 / 0.9."""
    epochs: float | None = None
    """Passes over the training set; default 3 (10 for RTE, STS-B, regression and tagging, 2 for QA)."""
    batch_size: int = 32
    """Examples per optimizer step."""
    warmup_fraction: float = 0.1
    """Share of the steps spent in linear warmup; then linear decay to 0."""
    weight_decay: float = 0.0
    """AdamW weight decay (never on biases and LayerNorm)."""
    adam_eps: float = 1e-6
    """AdamW's epsilon."""
    clip_grad_norm: float = 1.0
    """Global gradient-norm clip; 0 disables."""
    classifier_dropout: float = 0.1
    """Dropout in the task head."""
    reinit_layers: int = 0
    """Pretrained models: start the top K encoder layers afresh (as random initialisation starts them)
    instead of from their pretrained weights; docs/small-budgets.md. No effect with --init random."""
    head: Literal["hf", "reference"] = "hf"
    """Sentence head: 'hf' = dropout, dense, GELU, dropout, linear (transformers'
    ElectraClassificationHead, exportable as is); 'reference' = dropout + linear on [CLS]."""
    max_seq_length: int | None = None
    """Tokens per input; default 128 (tagging 256, QA 384)."""
    doc_stride: int = 128
    """QA: distance in tokens between the starts of overlapping context windows."""
    max_query_length: int = 64
    """QA: question tokens kept."""
    max_answer_length: int = 30
    """QA: longest answer span in tokens."""
    n_best: int = 20
    """QA: start and end candidates searched per window."""
    eval_batch_size: int = 128
    """Examples per forward pass when scoring dev and test."""
    max_train_examples: int | None = None
    """Use only the first N training examples (quick trials)."""
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu', 'cuda', ..."""
    loggers: str = "jsonl"
    """Where each seed's per-epoch rows (train loss, dev scores) go, comma-separated, under
    OUT/seed-N: 'jsonl' (metrics.jsonl), 'tensorboard' (tb/), 'wandb', 'mlflow'."""

    def __post_init__(self) -> None:
        _require(self.lr is None or (self.lr > 0 and math.isfinite(self.lr)), "lr", "must be a positive number")
        _require(self.layer_decay is None or 0 < self.layer_decay <= 1, "layer_decay", "must be in (0, 1]")
        _require(self.epochs is None or self.epochs > 0, "epochs", "must be > 0")
        for name in ("batch_size", "doc_stride", "max_query_length", "max_answer_length", "n_best", "eval_batch_size"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value > 0, name, f"must be a positive integer, got {value!r}")
        _require(
            self.max_seq_length is None or 8 <= self.max_seq_length <= 4096, "max_seq_length", "must be in [8, 4096]"
        )
        _require(self.max_train_examples is None or self.max_train_examples > 0, "max_train_examples", "must be > 0")
        _require(0 <= self.warmup_fraction < 1, "warmup_fraction", "must be in [0, 1)")
        _require(0 <= self.classifier_dropout < 1, "classifier_dropout", "must be in [0, 1)")
        _require(
            isinstance(self.reinit_layers, int) and self.reinit_layers >= 0,
            "reinit_layers",
            f"must be a non-negative integer, got {self.reinit_layers!r}",
        )
        _require(self.head in ("hf", "reference"), "head", f"must be 'hf' or 'reference', got {self.head!r}")
        _check_loggers(self.loggers)
        _check_optimizer_fields(self)


def _check_optimizer_fields(cfg: TrainConfig | FinetuneConfig) -> None:
    """Checks shared by pretraining and fine-tuning settings."""
    _require(cfg.weight_decay >= 0, "weight_decay", "must be >= 0")
    _require(cfg.adam_eps > 0, "adam_eps", "must be > 0")
    _require(cfg.clip_grad_norm >= 0, "clip_grad_norm", "must be >= 0")
    _require(
        cfg.device == "auto" or _is_device(cfg.device),
        "device",
        f"must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {cfg.device!r}",
    )


@dataclass
class Preset:
    """A model size with the pretraining defaults that belong to it."""

    model: ModelConfig
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def small() -> Preset:
    """ELECTRA-Small as in the paper (not the released Small++): 14M discriminator parameters."""
    return Preset(
        model=ModelConfig(
            embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4, intermediate_size=1024
        ),
        objective=ObjectiveConfig(mask_prob=0.15, generator_fraction=0.25),
        train=TrainConfig(lr=5e-4, batch_size=128, max_steps=1_000_000, warmup_steps=10_000),
    )


def base() -> Preset:
    """ELECTRA-Base: 110M discriminator parameters, generator 1/3 wide."""
    return Preset(
        model=ModelConfig(
            embedding_size=768, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
        ),
        objective=ObjectiveConfig(mask_prob=0.15, generator_fraction=1 / 3),
        train=TrainConfig(lr=2e-4, batch_size=256, max_steps=766_000, warmup_steps=10_000),
    )


def large() -> Preset:
    """ELECTRA-Large: 335M discriminator parameters, mask rate 0.25."""
    return Preset(
        model=ModelConfig(
            embedding_size=1024, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096
        ),
        objective=ObjectiveConfig(mask_prob=0.25, generator_fraction=0.25),
        train=TrainConfig(lr=2e-4, batch_size=2048, max_steps=400_000, warmup_steps=10_000),
    )


def tiny() -> Preset:
    """This project's CPU size: Small's recipe shrunk to 4 layers of width 128.

    Its schedule is made for minutes, not days: a short warmup, a higher peak rate and no
    dropout (dropout only slows a run this short down).
    """
    return Preset(
        model=ModelConfig(
            embedding_size=128,
            hidden_size=128,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=512,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        ),
        objective=ObjectiveConfig(mask_prob=0.15, generator_fraction=0.25),
        train=TrainConfig(lr=1e-3, batch_size=32, max_steps=20_000, warmup_steps=500, log_every=10, save_every=500),
    )


def tiny_budget() -> Preset:
    """``tiny`` with the two changes measured to pay at small budgets (``docs/small-budgets.md``).

    - ``init_scheme='local'``: the first layer's heads start as previous- and next-token heads,
      so the discriminator leaves its always-"original" plateau 3-4x sooner;
    - the shared token table's rows capped at norm 0.2 after every step, so pretraining does not
      grow the table the discriminator is fine-tuned from.

    The generator keeps the paper's quarter width: a full-width, half-depth one fine-tuned no
    better at 4-5e14 FLOPs, cost 30% more per token and was harder to detect.
    """
    base = tiny()
    return Preset(
        model=dataclasses.replace(base.model, init_scheme="local"),
        objective=dataclasses.replace(base.objective, embedding_norm_cap=0.2),
        train=base.train,
    )


def tiny_vectors() -> Preset:
    """``tiny-budget`` whose token table starts from corpus token vectors and stays frozen during
    pretraining (``docs/small-budgets.md``, "Corpus word vectors in the token table"): the data
    folder needs ``electra prepare --token-vectors 128``.

    Trained, the table loses the vectors' structure during pretraining and the model fine-tunes no
    better than plain ``tiny-budget``; frozen, it keeps them, the discriminator leaves its plateau
    about as early, and the layers learn on top of word knowledge they need not find.
    """
    base = tiny_budget()
    return dataclasses.replace(
        base, objective=dataclasses.replace(base.objective, token_vectors=True, freeze_token_table=True)
    )


PRESETS = {
    "tiny": tiny,
    "tiny-budget": tiny_budget,
    "tiny-vectors": tiny_vectors,
    "small": small,
    "base": base,
    "large": large,
}


def preset(name: str) -> Preset:
    """Look a preset up by name, with a clear error for unknown names."""
    if name not in PRESETS:
        raise ElectraError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]()
