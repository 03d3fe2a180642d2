"""The pretraining loop: optimizer steps, gradient accumulation, logging, checkpoints, resume.

The loop knows nothing about which objective it trains: it calls ``objective(batch, rng)`` and
gets a loss and summed statistics back. Randomness is explicit and saved: ``self.rng`` drives
masking and sampling, the global torch RNG drives dropout, the batch stream's (seed, epoch,
position) drives data order; all three go into every checkpoint, so a resumed run continues
exactly where the interrupted one was.

The learning rate follows the run's budget (``electra.train.optim.lr_factor``): steps, training
time or model FLOPs, whichever is spent first. The time and FLOPs spent are in every checkpoint,
so a resumed run continues the same schedule. With several processes these values drive the
schedule and the stop, so every process must see the same ones: they are agreed at sync points
(``_account``), not measured per process.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from electra.config import TrainConfig
from electra.data.loader import BatchStream
from electra.data.prefetch import Prefetcher
from electra.errors import ElectraError
from electra.files import write_json
from electra.masking import RowRng
from electra.model.io import save_network
from electra.model.sharing import local_rows
from electra.runtime import deterministic_kernels
from electra.train import checkpoint, sinks
from electra.train.distributed import Processes, all_sum, any_true, gather_objects, gather_values
from electra.train.optim import (
    build_optimizer,
    describe_schedule,
    lr_factor,
    mean_step_flops,
    progress,
    schedule_summary,
    set_lr,
)
from electra.train.sharding import Replicated, Sharded

COUNTERS = frozenset({"steps", "finite_steps", "skipped_steps"})
"""Window entries that count steps (the same on every process), not data (summed over processes)."""


def compile_networks(objective: nn.Module) -> None:
    """``torch.compile`` each network in place (state-dict keys unchanged). Masking and sampling
    stay eager: they draw from an explicit ``torch.Generator``, which dynamo cannot trace."""
    for network in objective.networks().values():
        network.compile()


@dataclass
class Agreed:
    """With several processes: the time and FLOPs spent as all processes agreed at the last sync
    point (after ``step``), and the per-step rates every process extrapolates with until the next
    one. Saved in checkpoints, so that a resumed run extrapolates as the uninterrupted one did."""

    step: int = 0
    elapsed: float = 0.0
    flops: float = 0.0
    seconds_per_step: float = 0.0
    flops_per_step: float = 0.0


class Trainer:
    """Trains one objective on one batch stream, writing metrics and checkpoints under ``run_dir``."""

    def __init__(
        self,
        objective: nn.Module,
        stream: BatchStream,
        cfg: TrainConfig,
        run_dir: Path,
        device: torch.device,
        tokenizer_dir: Path | None = None,
        progress: bool = True,
        procs: Processes | None = None,
        full_width: int | None = None,
        flops_of: Callable[[int, int], float] | None = None,
        snapshots: dict[str, float] | None = None,
    ) -> None:
        """``procs``: this process's rank among several (torchrun); ``stream`` then yields its rows
        of each global batch. ``full_width``: the longest row the data can have; given, masking
        draws are made for the whole global batch at that width (``RowRng``), so that a run's
        trajectory does not depend on the number of processes. ``flops_of(rows, width)``: model
        FLOPs of one micro-batch (for ``max_flops`` and the logged ``flops``). ``snapshots``: name ->
        FLOPs; the networks are written to ``run_dir/snapshots/NAME`` once that much is spent."""
        self.objective = objective.to(device)
        procs = procs or Processes()
        self.procs = procs
        self.cfg = cfg
        sharded = cfg.fsdp and torch.distributed.is_initialized()
        self.placement = (Sharded if sharded else Replicated)(objective, device)
        self.model = self.placement.module
        if procs.enabled and procs.is_main:
            print(
                f"training on {procs.world_size} processes: {'FSDP (sharded)' if sharded else 'DDP (replicated)'}, "
                f"{torch.distributed.get_backend()}",
                file=sys.stderr,
            )
        self.stream = Prefetcher(stream, pin=device.type == "cuda")  # loading off the step's path
        self.run_dir = run_dir
        self.device = device
        self.tokenizer_dir = tokenizer_dir
        self.data_fingerprint: dict | None = None  # set by the caller; kept in every checkpoint's manifest
        self.progress = progress and procs.is_main
        if cfg.compile:
            compile_networks(objective)
        self.optimizer = build_optimizer(objective, cfg, device)
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(cfg.seed + 1)
        local_rows = cfg.batch_size // cfg.grad_accum // procs.world_size
        self.masking_rng = (
            self.rng
            if full_width is None
            else RowRng(self.rng, procs.rank * local_rows, local_rows * procs.world_size, full_width)
        )
        if procs.enabled:  # dropout differs per process; masking (above) is shared
            torch.manual_seed(cfg.seed + 7919 * procs.rank)
        self.step = 0
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.flops_of = flops_of
        self.flops = 0.0  # model FLOPs spent so far (all processes)
        self.unshared_flops = 0.0  # several processes: this one's FLOPs since the last sync point
        self.agreed = Agreed()
        self.stop_agreed = False  # several processes: a signal reached one of them (as of the last sync)
        self.session_start: float | None = None  # clock() at which this session's elapsed time was 0
        self.session_first_step = 0
        self.source = stream
        self.snapshots = dict(snapshots or {})
        self.snapshots_written: set[str] | None = None
        self.window: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=device))
        self.plateau_warned: str | None = None
        """The discriminator state last warned about: each of 'plateau' and 'collapsed' is reported
        when it begins, so a plateau warning does not hide a later collapse."""
        self.saved_step: int | None = None
        self.last_lr = cfg.lr
        self.sink: sinks.Sink | None = None  # rank 0, while fit() runs: where metrics rows go (train.loggers)
        self.bad_run = torch.zeros((), device=device)  # consecutive skipped steps, counted on the device
        self.stop_signal: int | None = None
        self.stop_others = False  # another process was signalled
        # fused AdamW skips a bad step on the device; sharded parameters take the host check
        self.device_skip = bool(self.optimizer.defaults.get("fused")) and not self.placement.sharded

    def clock(self) -> float:
        """Seconds on a monotonic clock (a method, so that tests can make time deterministic)."""
        return time.perf_counter()

    # ----------------------------------------------------------------- state

    def state_dict(self) -> dict:
        """Everything to continue exactly. Called on every process (it gathers): the window of
        logged sums is summed over processes, the dropout RNG of each process is kept."""
        state = {
            "step": self.step,
            "elapsed": self.elapsed,
            "optimizer": self.placement.optimizer_state(self.optimizer),
            "agreed": asdict(self.agreed),
            "masking_rng": self.rng.get_state(),
            "torch_rng": gather_objects(torch.get_rng_state(), self.procs),
            "data": self.stream.state_dict(),
            "window": {k: v.detach().cpu() for k, v in self._summed_window().items()},
            "plateau_warned": self.plateau_warned,
            "bad_run": self.bad_run.detach().cpu(),
            "flops": self.flops,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = gather_objects(torch.cuda.get_rng_state(self.device), self.procs)
        return state

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.placement.load_optimizer_state(self.optimizer, state["optimizer"])
        # the learning rate is a function of (step, elapsed, flops): an older checkpoint's "scheduler" is not needed
        self.agreed = Agreed(**state["agreed"]) if "agreed" in state else Agreed(self.step, self.elapsed)
        self.rng.set_state(state["masking_rng"])
        self._restore_dropout_rng(state)
        self.stream.load_state_dict(state["data"])
        for key, value in state["window"].items():  # the summed window goes to one process only
            if key in COUNTERS or self.procs.is_main:
                self.window[key] = value.to(self.device)
        warned = state["plateau_warned"]  # a bool in checkpoints written before the collapse warning
        self.plateau_warned = "plateau" if warned is True else (warned or None)
        self.bad_run = state.get("bad_run", torch.zeros(())).to(self.device)
        self.flops = float(state.get("flops", 0.0))
        if "agreed" not in state:
            self.agreed.flops = self.flops

    def _restore_dropout_rng(self, state: dict) -> None:
        """Each process's own dropout RNG when the process count is unchanged, else fresh seeds."""
        saved = state["torch_rng"]
        saved = saved if isinstance(saved, list) else [saved]
        cuda = state.get("cuda_rng")
        cuda = cuda if isinstance(cuda, list) or cuda is None else [cuda]
        if len(saved) == self.procs.world_size:
            torch.set_rng_state(saved[self.procs.rank])
            if cuda is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state(cuda[self.procs.rank], self.device)
            return
        torch.manual_seed(self.cfg.seed + 7919 * self.procs.rank + self.step)
        if self.procs.is_main:
            print(
                f"note: checkpoint written by {len(saved)} process(es), resumed by {self.procs.world_size}: "
                f"dropout randomness is reseeded (masking and data order continue exactly)",
                file=sys.stderr,
            )

    def resume(self) -> bool:
        """Continue from the newest good checkpoint; False (fresh start) when there is none."""
        found = checkpoint.load_latest(self.run_dir, self.objective.networks(), load=self.placement.load_network)
        if found is None:
            return False
        path, state = found
        self.load_state_dict(state)
        if self.procs.is_main:
            print(f"resumed from {path} at step {self.step}", file=sys.stderr)
        return True

    def _open_sinks(self) -> sinks.Sink | None:
        """Rank 0's metric sinks, continuing from ``self.step``: rows logged after the checkpoint
        are dropped (``metrics.jsonl`` cut, TensorBoard events purged); the resumed run logs them again."""
        if not self.procs.is_main:
            return None
        return sinks.open_sinks(self.cfg.loggers, self.run_dir, self.step, config=asdict(self.cfg))

    # ----------------------------------------------------------------- loop

    def fit(self) -> str:
        """Train until ``max_steps``, the ``max_minutes`` or the ``max_flops`` budget, whichever is
        spent first (the learning rate decays to 0 at that point), then write the final models.

        SIGTERM or SIGINT ends the current step, writes a checkpoint and returns without the final
        models. Returns 'done' or the signal's name.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.objective.train()
        self._announce_schedule()
        self.sink = self._open_sinks()
        try:
            return self._fit()
        finally:
            if self.sink is not None:
                self.sink.close()
                self.sink = None

    def _fit(self) -> str:
        bar = self._progress_bar()
        window_start, window_tokens = time.perf_counter(), 0
        self.session_start = self.clock() - self.elapsed
        self.session_first_step = self.step
        with self._stop_on_signals(), self._deterministic():
            while self.step < self.cfg.max_steps and not self._should_stop():
                window_tokens += self.train_step()
                self.step += 1
                self._account()
                bar.update(round(self.elapsed) - bar.n if self.cfg.max_minutes is not None else 1)
                if self.step % self.cfg.log_every == 0:
                    now = time.perf_counter()
                    row = self._log(window_tokens * self.procs.world_size / max(now - window_start, 1e-9))
                    if row:
                        bar.set_postfix(self._postfix(row), refresh=False)
                    window_start, window_tokens = now, 0
                if self.device.type == "cpu" or self.step % self.cfg.log_every == 0:  # GPU: no sync per step
                    self._raise_if_stuck()
                if self.step % self.cfg.save_every == 0:
                    self.save()
                self._write_due_snapshots()
            if self.step % self.cfg.log_every and self.window.get("steps") is not None:
                self._log(window_tokens * self.procs.world_size / max(time.perf_counter() - window_start, 1e-9))
            bar.close()
            self.stream.close()
            if self.saved_step != self.step:
                self.save()
        if self.stop_signal is not None or self.stop_others:
            name = signal.Signals(self.stop_signal or signal.SIGTERM).name
            if self.procs.is_main:
                print(
                    f"{name}: stopped at step {self.step}, checkpoint written; continue with --resume", file=sys.stderr
                )
            return name
        self.write_models(self.run_dir)
        return "done"

    def _write_due_snapshots(self) -> None:
        if self.snapshots_written is None:  # decided once, by every process alike (a resumed run)
            self.snapshots_written = {n for n in self.snapshots if (self.run_dir / "snapshots" / n).is_dir()}
        for name, flops in sorted(self.snapshots.items(), key=lambda item: item[1]):
            folder = self.run_dir / "snapshots" / name
            if self.flops >= flops and name not in self.snapshots_written:
                self.snapshots_written.add(name)
                self.write_models(folder)
                if self.procs.is_main:
                    write_json(
                        folder / "snapshot.json", {"step": self.step, "flops": self.flops, "elapsed_s": self.elapsed}
                    )

    def _should_stop(self) -> bool:
        """A signal, or the time or FLOPs budget spent. One process: checked before every step on
        the clock. Several: on the values every process agrees on (``_account``), a signal as of
        the last sync point, so that all stop at the same step without a host sync per step."""
        if not self.procs.enabled:
            self.elapsed = self.clock() - self.session_start
            if self.stop_signal is not None:
                return True
        elif self.stop_agreed:
            return True
        return (self.cfg.max_minutes is not None and self.elapsed >= self.cfg.max_minutes * 60) or (
            self.cfg.max_flops is not None and self.flops >= self.cfg.max_flops
        )

    def _account(self) -> None:
        """Bring ``elapsed`` and ``flops`` up to date after a step.

        One process: measured. Several: the schedule and the stop follow these values, so every
        process must hold the same ones. At sync points (every ``log_every`` and ``save_every``
        steps) one small collective agrees on them (the slowest clock, the FLOPs summed over
        processes, whether any process was signalled): one host sync per window. In between every
        process extrapolates from the last agreement at the last window's rates. The seconds per
        step of a session's first window (start-up, compilation) are not used for that: until a
        later window, the time is only updated at sync points.
        """
        if not self.procs.enabled:
            self.elapsed = self.clock() - self.session_start
            return
        last = self.agreed
        steps = self.step - last.step
        if self.step % self.cfg.log_every and self.step % self.cfg.save_every:
            self.elapsed = last.elapsed + steps * last.seconds_per_step
            self.flops = last.flops + steps * last.flops_per_step
            return
        now = self.clock()
        rows = gather_values(
            [now - self.session_start, self.unshared_flops, float(self.stop_signal is not None)],
            self.procs,
            self.device,
        )
        self.unshared_flops = 0.0
        elapsed = max(row[0] for row in rows)
        flops = last.flops + sum(row[1] for row in rows)
        self.stop_agreed = any(row[2] for row in rows)
        self.stop_others = self.stop_agreed and self.stop_signal is None  # another process was signalled
        seconds_per_step = (
            (elapsed - last.elapsed) / steps if last.step > self.session_first_step else last.seconds_per_step
        )
        self.agreed = Agreed(self.step, elapsed, flops, seconds_per_step, (flops - last.flops) / steps)
        self.elapsed, self.flops = elapsed, flops
        self.session_start = now - elapsed  # this process's clock continues from the agreed time

    def _announce_schedule(self) -> None:
        """Print (and write to ``schedule.json``) what the learning rate follows, once per session."""
        if not self.procs.is_main:
            return
        step_flops = None
        if self.cfg.max_flops is not None and self.flops_of is not None and isinstance(self.source, BatchStream):
            step_flops = self.cfg.grad_accum * mean_step_flops(
                self.source.data, self.source.batch_size, self.cfg.seed, self.flops_of
            )
        summary = schedule_summary(self.cfg, step_flops)
        write_json(self.run_dir / "schedule.json", summary)
        print(describe_schedule(summary), file=sys.stderr)

    def _deterministic(self):
        """``train.deterministic``: deterministic kernels while training, the previous setting after."""
        return deterministic_kernels(self.cfg.deterministic)

    @contextmanager
    def _stop_on_signals(self):
        """While training, SIGTERM and SIGINT only set ``stop_signal`` (the step in flight finishes).
        Signal handlers can only be installed from the main thread; elsewhere nothing changes."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda signum, frame: setattr(self, "stop_signal", signum))
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _progress_bar(self) -> tqdm:
        """Steps towards ``max_steps``, or seconds of the ``max_minutes`` budget when one is set
        (so that the ETA is that of the limit that will stop the run)."""
        common = dict(disable=not self.progress, dynamic_ncols=True, file=sys.stderr)
        if self.cfg.max_minutes is not None:
            return tqdm(total=round(self.cfg.max_minutes * 60), initial=round(self.elapsed), unit="s", **common)
        return tqdm(total=self.cfg.max_steps, initial=self.step, unit="step", **common)

    def train_step(self) -> int:
        """One optimizer step over ``grad_accum`` micro-batches; returns the real tokens seen."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.cfg.dtype == "bf16" else nullcontext()
        lr = self.cfg.lr * lr_factor(self.cfg, self.step, self.elapsed, self.flops)  # what was spent before the step
        tokens, losses, stats = 0, None, []
        for micro in range(self.cfg.grad_accum):
            batch = next(self.stream)
            tokens += batch.num_tokens  # counted on the host copy: no device sync
            if self.flops_of is not None:
                spent = self.flops_of(*batch.input_ids.shape)
                if self.procs.enabled:
                    self.unshared_flops += spent  # summed over processes at the next sync point
                else:
                    self.flops += spent
            batch = batch.to(self.device, non_blocking=True)
            last = micro == self.cfg.grad_accum - 1
            with nullcontext() if last else self.placement.no_sync():  # gradients are reduced once per step
                with autocast:
                    out = self.model(batch, self.masking_rng)
                loss = self._global_loss(out)
                (loss / self.cfg.grad_accum).backward()
            losses = loss.detach() if losses is None else losses + loss.detach()
            stats.append(out.stats)
        finite = torch.isfinite(losses)
        for part in stats:  # a skipped step adds nothing to the logged averages
            for key, value in part.items():
                self.window[key] += torch.where(finite, value, 0.0)
        self.window["loss_sum"] += torch.where(finite, losses / self.cfg.grad_accum / self.procs.world_size, 0.0)
        self.window["finite_steps"] += finite.float()
        self.window["steps"] += 1
        self._step_unless_non_finite(losses, lr)
        return tokens

    def _global_loss(self, out) -> torch.Tensor:
        """The loss this process back-propagates. With several processes each term's sum is divided
        by its count over all processes (not each process's own mean); times the world size,
        since DDP averages gradients. Logged (``loss_sum``), the shares of all processes add up
        to the global loss."""
        if not self.procs.enabled:
            return out.loss
        counts = all_sum(torch.stack([term.count.detach().float() for term in out.terms]), self.procs)
        world = self.procs.world_size
        return sum(t.weight * t.mean * t.count * world / counts[i].clamp(min=1.0) for i, t in enumerate(out.terms))

    def _step_unless_non_finite(self, loss: torch.Tensor, lr: float) -> None:
        """Clip and update at rate ``lr``, unless the loss or the gradient is not finite: then skip and count.

        The check stays on the device (fused AdamW reads ``found_inf`` and leaves parameters and
        moments untouched); other optimizers need one host check. The schedule advances either way.
        """
        parameters = [p for p in self.objective.parameters() if p.grad is not None]
        if self.cfg.clip_grad_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(parameters, self.cfg.clip_grad_norm)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        if hasattr(norm, "full_tensor"):  # sharded gradients give a distributed norm
            norm = norm.full_tensor()
        bad = ~(torch.isfinite(norm) & torch.isfinite(loss))
        self.window["skipped_steps"] += bad.float()
        self.bad_run = (self.bad_run + 1) * bad.float()
        self.last_lr = lr  # the rate this step used
        set_lr(self.optimizer, lr)
        self.objective.before_step()
        if self.device_skip:
            self.optimizer.found_inf = bad.float()
            self.optimizer.step()
        elif not bool(bad):
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.objective.after_step()

    def _raise_if_stuck(self) -> None:
        """Raise once ``max_bad_steps`` consecutive steps were skipped (nothing is saved then)."""
        if int(self.bad_run) < self.cfg.max_bad_steps:
            return
        last = checkpoint.list_checkpoints(checkpoint.checkpoint_dir(self.run_dir))
        raise ElectraError(
            f"training stopped at step {self.step}: the last {int(self.bad_run)} steps had a non-finite loss or "
            f"gradient (train.max_bad_steps {self.cfg.max_bad_steps}); the last good checkpoint is "
            f"{last[-1] if last else 'none'}. Lower train.lr or check the data."
        )

    def _summed_window(self) -> dict[str, torch.Tensor]:
        """The logging window with its data sums added over processes (a collective); step counters as they are."""
        return {k: v if k in COUNTERS else all_sum(v.clone(), self.procs) for k, v in self.window.items()}

    def _log(self, tokens_per_s: float) -> dict:
        stats = {k: float(v) for k, v in self._summed_window().items()}  # the one host sync per window
        self.window.clear()
        if not self.procs.is_main:
            return {}
        finite = stats.get("finite_steps", 0.0)
        row = {
            "step": self.step,
            "loss": stats["loss_sum"] / finite if finite else math.nan,
            **self.objective.metrics(stats),
            "lr": self.last_lr,
            "progress": progress(self.cfg, self.step, self.elapsed, self.flops),
            "skipped_steps": int(stats.get("skipped_steps", 0)),
            "flops": self.flops,
        }
        timing = {"tokens_per_s": tokens_per_s, "elapsed_s": self.elapsed}
        if self.cfg.deterministic:  # timings differ run to run: keep them out of the metrics file
            with open(self.run_dir / "timings.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": self.step, **timing}) + "\n")
        else:
            row.update(timing)
        self._warn_health(row)
        if self.sink is not None:
            self.sink.log(row, self.step)
        return row

    def _warn_health(self, row: dict) -> None:
        """Report each warning-worthy state the objective sees (a plateau, a collapse) when it begins."""
        if self.step < self.cfg.plateau_warn_steps:
            return
        health = self.objective.health(row)
        if health is not None and health.state != self.plateau_warned:
            self.plateau_warned = health.state
            tqdm.write(f"warning: {health.message}", file=sys.stderr)

    def _postfix(self, row: dict) -> dict:
        shown = {"loss": f"{row['loss']:.3f}", "gen_acc": f"{row['gen_acc']:.3f}"}
        shown.update(self.objective.progress_fields(row))
        if "tokens_per_s" in row:
            shown["tok/s"] = f"{row['tokens_per_s']:.0f}"
        return shown

    # ----------------------------------------------------------------- outputs

    def save(self) -> None:
        """Write a checkpoint (rank 0; every process takes part in gathering the state); a model
        with a non-finite parameter is refused, never written."""
        self._raise_if_stuck()
        broken = [
            name for name, p in self.objective.named_parameters() if not bool(torch.isfinite(local_rows(p)).all())
        ]
        if any_true(bool(broken), self.procs, self.device):
            raise ElectraError(
                f"step {self.step}: parameters {', '.join(broken[:5]) or '(on another process)'} "
                f"are not finite; "
                f"not saving them (the previous checkpoint is kept)"
            )
        self.saved_step = self.step
        state = self.state_dict()
        weights = self.placement.network_weights()
        if self.procs.is_main:
            checkpoint.save_checkpoint(
                self.run_dir,
                self.step,
                self.objective.networks(),
                state,
                self.cfg.keep_checkpoints,
                self.tokenizer_dir,
                weights,
                data=self.data_fingerprint,
            )

    def write_models(self, folder: Path) -> None:
        """Each network as a standalone folder (config, model.safetensors, tokenizer files), by
        rank 0; every process takes part in gathering sharded weights."""
        weights = self.placement.network_weights() or {}
        if self.procs.is_main:
            for name, module in self.objective.networks().items():
                save_network(module, folder / name, self.tokenizer_dir, state=weights.get(name))
