"""``electra bench``: our pretraining step against the usual ``transformers`` composition.

The baseline is what users glue together today: ``ElectraForMaskedLM`` (generator) and
``ElectraForPreTraining`` (discriminator) sharing their embeddings, the generator projecting
every position to the vocabulary and computing its loss from ``labels``, the discriminator its
BCE from ``labels``, one ``torch.optim.AdamW``. Both arms get the same synthetic batch, the same
masking and sampling code and the same dtype; the only differences are the implementations of
the networks, losses and optimizer step.

Shared machines are noisy (steps were seen running 3-7x slower for minutes at a time), so:

- the arms are timed *interleaved*, alternating which goes first, so that slow periods hit
  both alike;
- before each timed step a small reference matmul is timed; a step whose reference ran below
  ``CLEAN_SPEED`` of the fastest reference seen is discarded, and the median of the clean
  steps is reported (with how many were kept).

The figures: tokens/s of each arm and their ratio, model FLOPs per token (``electra.flops``,
counting only the work each arm does: the baseline's vocabulary projection at every position,
ours at the selected ones), achieved GFLOP/s, MFU of our step against the matmul peak measured
in the same process for the dtype in use, and peak memory of a step.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from electra.config import DTYPES, ModelConfig, ObjectiveConfig, TrainConfig, preset
from electra.data.loader import PretrainBatch
from electra.errors import ElectraError
from electra.files import write_json
from electra.flops import slot_share
from electra.masking import bert_corruption, mask_for_generator, write_samples
from electra.objectives import objective_class
from electra.objectives.base import PositionSelector
from electra.runtime import resolve_device
from electra.sampling import sample_tokens
from electra.tokenizer import SpecialIds
from electra.train.loop import Trainer

BERT_SPECIALS = SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)
"""Special-token ids of the bert-base-uncased vocabulary (30,522 ids) the presets assume."""

CLEAN_SPEED = 0.8
"""A timed step counts only when its reference matmul ran at >= this share of the best one."""


@dataclass
class BenchConfig:
    """What to measure."""

    preset: str = "small"
    """Model size: tiny, tiny-budget, small, base or large."""
    batch_size: int = 32
    """Sequences per step."""
    seq_len: int = 128
    """Tokens per sequence (every row full length)."""
    dtype: Literal["fp32", "bf16"] = "fp32"
    """fp32, or bf16 autocast (sampling and losses stay fp32 in our step)."""
    objective: Literal["electra", "mlm"] = "electra"
    """electra (generator + discriminator) or mlm (BERT-style baseline at discriminator size): the
    objectives with a ``transformers`` composition to compare against (``BASELINES``)."""
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'."""
    repeats: int = 10
    """Timed steps per arm (after ``warmup`` untimed ones)."""
    warmup: int = 3
    """Untimed steps per arm before timing."""
    seed: int = 0
    """Seeds the weights, the batch, masking and sampling."""
    compile: bool = False
    """Time our step under torch.compile."""
    memory: bool = True
    """Measure each arm's peak step memory (on CPU in a fresh subprocess per arm)."""

    def __post_init__(self) -> None:
        checks = {
            "batch_size": self.batch_size > 0,
            "seq_len": 8 <= self.seq_len <= 512,
            "repeats": self.repeats > 0,
            "warmup": self.warmup >= 0,
            "dtype": self.dtype in DTYPES,
            "objective": self.objective in BASELINES,
        }
        for name, ok in checks.items():
            if not ok:
                raise ElectraError(f"bench: invalid {name} {getattr(self, name)!r}")
        preset(self.preset)  # unknown names fail here

    def model(self) -> ModelConfig:
        return dataclasses.replace(preset(self.preset).model, vocab_size=30522)

    def recipe(self) -> ObjectiveConfig:
        return preset(self.preset).objective


# ---------------------------------------------------------------- inputs


def synthetic_batch(cfg: BenchConfig, generator: torch.Generator) -> PretrainBatch:
    """Full-length two-segment rows ``[CLS] A [SEP] B [SEP]`` of random non-special ids."""
    B, T = cfg.batch_size, cfg.seq_len
    ids = torch.randint(1000, 30522, (B, T), generator=generator)
    split = T // 2
    ids[:, 0] = BERT_SPECIALS.cls
    ids[:, split] = BERT_SPECIALS.sep
    ids[:, -1] = BERT_SPECIALS.sep
    types = torch.zeros(B, T, dtype=torch.long)
    types[:, split + 1 :] = 1
    return PretrainBatch(ids, torch.ones(B, T, dtype=torch.long), types)


class RepeatBatch:
    """A batch stream that yields the same batch forever (the Trainer's stream interface)."""

    def __init__(self, batch: PretrainBatch) -> None:
        self.batch = batch

    def __next__(self) -> PretrainBatch:
        return self.batch

    def state_dict(self) -> dict:
        return {}


# ---------------------------------------------------------------- the baseline


def hf_config(model: ModelConfig):
    from transformers import ElectraConfig

    body = model.to_hf_dict("ElectraModel")
    return ElectraConfig(**body, attn_implementation="sdpa")


class HfElectra(PositionSelector):
    """``ElectraForMaskedLM`` + ``ElectraForPreTraining`` sharing one embeddings module; positions
    are chosen by the same rule as our objectives (``PositionSelector``), recipe in ``self.cfg``."""

    name = "electra"

    def __init__(self, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int) -> None:
        super().__init__(recipe, BERT_SPECIALS, seq_len)
        from transformers import ElectraForMaskedLM, ElectraForPreTraining

        self.discriminator = ElectraForPreTraining(hf_config(model))
        self.generator = ElectraForMaskedLM(hf_config(recipe.generator_model(model)))
        self.generator.electra.embeddings = self.discriminator.electra.embeddings
        self.generator.generator_lm_head.weight = self.discriminator.electra.embeddings.word_embeddings.weight

    def forward(self, batch: PretrainBatch, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """The total loss and its parts the way the HF heads compute them (vocabulary everywhere),
        with the masking and sampling of this project drawn from ``rng`` in the same order."""
        ids, attn, types = batch.input_ids, batch.attention_mask, batch.token_type_ids
        selection = self.select(batch, rng)
        gen_input, _ = mask_for_generator(ids, selection.mask, BERT_SPECIALS.mask, self.cfg.mask_token_prob, rng)
        gen = self.generator(
            input_ids=gen_input,
            attention_mask=attn,
            token_type_ids=types,
            labels=ids.masked_fill(~selection.mask, -100),
        )
        slot_logits = gen.logits.gather(1, selection.index[..., None].expand(-1, -1, gen.logits.shape[-1]))
        forbidden = ids.gather(1, selection.index).flatten() if self.cfg.disallow_correct else None
        samples = sample_tokens(slot_logits.flatten(0, 1), rng, self.cfg.temperature, forbidden)
        samples = samples.view(selection.index.shape)
        disc_input, labels = write_samples(ids, selection.index, selection.valid, samples)
        disc = self.discriminator(input_ids=disc_input, attention_mask=attn, token_type_ids=types, labels=labels)
        loss = self.cfg.gen_weight * gen.loss + self.cfg.disc_weight * disc.loss
        return {"loss": loss, "mlm_loss": gen.loss, "disc_loss": disc.loss, "samples": samples}


class HfMlm(PositionSelector):
    """``ElectraForMaskedLM`` at discriminator size with BERT's 80/10/10: the usual MLM baseline."""

    name = "mlm"

    def __init__(self, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int) -> None:
        super().__init__(recipe, BERT_SPECIALS, seq_len)
        from transformers import ElectraForMaskedLM

        self.mlm = ElectraForMaskedLM(hf_config(model))

    def forward(self, batch: PretrainBatch, rng: torch.Generator) -> dict[str, torch.Tensor]:
        ids = batch.input_ids
        selected = self.select(batch, rng).mask
        corrupted, _ = bert_corruption(ids, selected, BERT_SPECIALS.mask, self.mlm.config.vocab_size, rng)
        out = self.mlm(
            input_ids=corrupted,
            attention_mask=batch.attention_mask,
            token_type_ids=batch.token_type_ids,
            labels=ids.masked_fill(~selected, -100),
        )
        return {"loss": self.cfg.gen_weight * out.loss, "mlm_loss": out.loss}


BASELINES = {cls.name: cls for cls in (HfElectra, HfMlm)}
"""The objectives ``bench`` can time against a ``transformers`` composition of the same step."""


class BaselineStep:
    """One optimizer step of the ``transformers`` composition: forward, backward, clip, AdamW."""

    def __init__(self, cfg: BenchConfig, batch: PretrainBatch, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.net = BASELINES[cfg.objective](cfg.model(), cfg.recipe(), cfg.seq_len).to(device)
        self.net.train()
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=1e-4, eps=1e-6, weight_decay=0.01)
        self.batch = batch.to(device)
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(cfg.seed + 1)

    def __call__(self) -> None:
        with autocast(self.cfg.dtype, self.device):
            loss = self.net(self.batch, self.rng)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def autocast(dtype: str, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bf16" else nullcontext()


# ---------------------------------------------------------------- our step


class OurStep:
    """One optimizer step of this project's ``Trainer`` (the code ``electra pretrain`` runs)."""

    def __init__(self, cfg: BenchConfig, batch: PretrainBatch, device: torch.device, run_dir: Path) -> None:
        objective = objective_class(cfg.objective).build(cfg.model(), cfg.recipe(), BERT_SPECIALS, cfg.seq_len)
        train = TrainConfig(
            batch_size=cfg.batch_size,
            dtype=cfg.dtype,
            compile=cfg.compile,
            seed=cfg.seed,
            warmup_steps=10,
            max_steps=10**9,
            device=str(device),
        )
        self.trainer = Trainer(objective, RepeatBatch(batch), train, run_dir, device, progress=False)
        self.trainer.objective.train()

    def __call__(self) -> None:
        self.trainer.train_step()


# ---------------------------------------------------------------- timing


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def torch_dtype(name: str) -> torch.dtype:
    return torch.bfloat16 if name == "bf16" else torch.float32


def matmul_peak(dtype: str, device: torch.device, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 5) -> float:
    """Best GFLOP/s of square matmuls of ``dtype`` on ``device`` (all threads)."""
    if device.type == "cuda":
        sizes = (4096, 8192)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device).to(torch_dtype(dtype))
        b = torch.randn(n, n, device=device).to(torch_dtype(dtype))
        product = functools.partial(torch.matmul, a, b)
        timed(product, device)
        seconds = min(timed(product, device) for _ in range(repeats))
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


class ReferenceProbe:
    """A small fixed matmul timed before each step: how fast is the machine right now?"""

    def __init__(self, dtype: str, device: torch.device, n: int = 512) -> None:
        self.device = device
        self.a = torch.randn(n, n, device=device).to(torch_dtype(dtype))
        self.b = torch.randn(n, n, device=device).to(torch_dtype(dtype))

    def __call__(self) -> float:
        return min(timed(lambda: self.a @ self.b, self.device) for _ in range(3))


@dataclass
class Timings:
    seconds: list[float] = dataclasses.field(default_factory=list)
    probe: list[float] = dataclasses.field(default_factory=list)

    def clean(self, best_probe: float) -> list[float]:
        kept = [s for s, p in zip(self.seconds, self.probe) if best_probe / p >= CLEAN_SPEED]
        return kept if len(kept) >= 3 else self.seconds  # too noisy to filter: report everything


def interleave(arms: dict[str, Callable[[], None]], cfg: BenchConfig, device: torch.device) -> dict[str, Timings]:
    """Warm each arm up, then time them in alternating order, a reference probe before each step."""
    probe = ReferenceProbe(cfg.dtype, device)
    for arm in arms.values():
        for _ in range(cfg.warmup):
            arm()
    timings = {name: Timings() for name in arms}
    names = list(arms)
    for rep in range(cfg.repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            timings[name].probe.append(probe())
            timings[name].seconds.append(timed(arms[name], device))
    return timings


# ---------------------------------------------------------------- memory


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _memory_of(arm: str, cfg: BenchConfig) -> float | None:
    """Peak resident memory added by two steps of ``arm``, in a fresh process.

    The high-water mark is reset once the models are built (``clear_refs``: a process inherits its
    parent's mark across fork and exec, so ``ru_maxrss`` would report the parent's peak).
    """
    torch.manual_seed(cfg.seed)
    device = torch.device("cpu")
    batch = synthetic_batch(cfg, torch.Generator().manual_seed(cfg.seed))
    with tempfile.TemporaryDirectory() as tmp:
        step = OurStep(cfg, batch, device, Path(tmp)) if arm == "ours" else BaselineStep(cfg, batch, device)
        try:
            Path("/proc/self/clear_refs").write_text("5")
            before = _status_mb("VmRSS")
        except OSError:
            return None  # not Linux: no resettable high-water mark
        step()
        step()
        return _status_mb("VmHWM") - before


def peak_memory_mb(arm: str, cfg: BenchConfig, device: torch.device, step: Callable[[], None]) -> float | None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_memory_of, (arm, cfg))


# ---------------------------------------------------------------- the command


def run_bench(cfg: BenchConfig) -> dict:
    device = resolve_device(cfg.device)
    try:
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ElectraError("electra bench needs transformers for its baseline: pip install 'electra[bench]'") from exc
    torch.manual_seed(cfg.seed)
    batch = synthetic_batch(cfg, torch.Generator().manual_seed(cfg.seed))
    model, recipe = cfg.model(), cfg.recipe()
    share = slot_share(recipe, cfg.seq_len)
    flops = objective_class(cfg.objective).step_flops
    ours_flops = flops(model, recipe, cfg.seq_len).per_token(share)
    base_flops = flops(model, recipe, cfg.seq_len, vocab_everywhere=True).per_token(share)
    peak = matmul_peak(cfg.dtype, device)
    with tempfile.TemporaryDirectory() as tmp:
        arms = {"baseline": BaselineStep(cfg, batch, device), "ours": OurStep(cfg, batch, device, Path(tmp))}
        timings = interleave(arms, cfg, device)
        best_probe = min(min(t.probe) for t in timings.values())
        seconds = {name: statistics.median(t.clean(best_probe)) for name, t in timings.items()}
        kept = {name: len(t.clean(best_probe)) for name, t in timings.items()}
        memory = {name: peak_memory_mb(name, cfg, device, arms[name]) for name in arms} if cfg.memory else {}
    tokens = cfg.batch_size * cfg.seq_len
    ours_tps, base_tps = tokens / seconds["ours"], tokens / seconds["baseline"]
    return {
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        **{k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("memory",)},
        "ours_tokens_per_s": ours_tps,
        "baseline_tokens_per_s": base_tps,
        "ratio": ours_tps / base_tps,
        "ours_step_s": seconds["ours"],
        "baseline_step_s": seconds["baseline"],
        "clean_steps": kept,
        "flops_per_token": ours_flops,
        "baseline_flops_per_token": base_flops,
        "ours_gflops": ours_tps * ours_flops / 1e9,
        "baseline_gflops": base_tps * base_flops / 1e9,
        "peak_gflops": peak,
        "mfu": ours_tps * ours_flops / 1e9 / peak,
        "baseline_mfu": base_tps * base_flops / 1e9 / peak,
        "ours_peak_memory_mb": memory.get("ours"),
        "baseline_peak_memory_mb": memory.get("baseline"),
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({multiprocessing.cpu_count()} cores)"


def format_report(result: dict) -> str:
    lines = [
        f"electra bench: {result['objective']}, preset {result['preset']}, batch {result['batch_size']} x "
        f"{result['seq_len']}, {result['dtype']}, {result['device_name']}, {result['threads']} threads",
        f"  matmul peak ({result['dtype']}):  {result['peak_gflops']:8.1f} GFLOP/s",
        f"  {'':22}{'tokens/s':>10}{'GFLOP/s':>10}{'MFU':>8}{'FLOP/token':>13}{'peak MiB':>10}",
    ]
    for arm in ("baseline", "ours"):
        flops = result["flops_per_token" if arm == "ours" else "baseline_flops_per_token"]
        mem = result[f"{arm}_peak_memory_mb"]
        lines.append(
            f"  {arm + ' (' + str(result['clean_steps'][arm]) + ' clean steps)':22}"
            f"{result[f'{arm}_tokens_per_s']:10.0f}{result[f'{arm}_gflops']:10.1f}"
            f"{result['mfu' if arm == 'ours' else 'baseline_mfu']:8.1%}{flops / 1e6:12.1f}M"
            f"{'' if mem is None else f'{mem:10.0f}'}"
        )
    lines.append(f"  ratio ours / baseline: {result['ratio']:.2f}x")
    return "\n".join(lines)


def main(cfg: BenchConfig, as_json: bool, out: Path | None = None) -> None:
    result = run_bench(cfg)
    print(format_report(result), file=sys.stderr if as_json else sys.stdout)
    if out is not None:
        write_json(out, result)
    if as_json:
        print(json.dumps(result))
