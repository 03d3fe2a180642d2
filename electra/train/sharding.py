"""How the objective is spread over processes: replicated (DDP) or sharded (FSDP2).

``Replicated`` wraps the objective in ``DistributedDataParallel`` (or leaves it alone in one
process); ``Sharded`` applies ``fully_shard`` to every transformer layer of every network and
then to the whole objective (the embeddings, shared or each network's own, and the heads go in
that root unit). Both answer the questions the trainer asks: the module to call, how to skip the
gradient reduction of a micro-batch, each network's full weights for writing, the optimizer
state in a form any process count can load, and loading both back.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from torch import nn

from electra.errors import ElectraError
from electra.model.io import load_weights, read_weights


class Replicated:
    """One full copy of every parameter per process."""

    sharded = False

    def __init__(self, objective: nn.Module, device: torch.device) -> None:
        self.objective = objective
        self.module = objective
        if torch.distributed.is_initialized():
            from torch.nn.parallel import DistributedDataParallel

            self.module = DistributedDataParallel(
                objective, device_ids=[device.index] if device.type == "cuda" else None
            )

    def no_sync(self):
        """Context for a micro-batch that is not the last of its optimizer step: its gradients are
        accumulated locally and reduced with the last one's (one all-reduce per step, not per
        micro-batch). Forward and backward both run inside it."""
        return self.module.no_sync() if self.module is not self.objective else nullcontext()

    def network_weights(self) -> dict[str, dict] | None:
        return None  # the modules hold their full weights

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict:
        return optimizer.state_dict()

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict) -> None:
        if state.get("format") == "full":  # written by a sharded run
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(
                self.objective, optimizer, state["state"], options=StateDictOptions(full_state_dict=True)
            )
            return
        optimizer.load_state_dict(state)

    def load_network(self, module: nn.Module, folder: Path) -> None:
        load_weights(module, folder)


class Sharded(Replicated):
    """Parameters, gradients and optimizer state split over the processes (FSDP2)."""

    sharded = True

    def __init__(self, objective: nn.Module, device: torch.device) -> None:
        from torch.distributed.fsdp import fully_shard

        for network in objective.networks().values():
            for layer in network.electra.encoder.layer:
                fully_shard(layer)
        fully_shard(objective)
        self.objective = objective
        self.module = objective

    @contextmanager
    def no_sync(self):
        """FSDP2's form of ``no_sync``: unsharded gradients accumulate until the last micro-batch,
        which reduce-scatters them once."""
        self.module.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            self.module.set_requires_gradient_sync(True)

    @staticmethod
    def _options():
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, cpu_offload=True)

    def network_weights(self) -> dict[str, dict]:
        """Every network's full weights on rank 0 (a collective: every process must call it)."""
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return {
            name: get_model_state_dict(network, options=self._options())
            for name, network in self.objective.networks().items()
        }

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return {"format": "full", "state": get_optimizer_state_dict(self.objective, optimizer, options=self._options())}

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict) -> None:
        if state.get("format") != "full":
            raise ElectraError("this checkpoint was written without train.fsdp; resume it without train.fsdp")
        super().load_optimizer_state(optimizer, state)

    def load_network(self, module: nn.Module, folder: Path) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(module, read_weights(folder), options=StateDictOptions(full_state_dict=True))
