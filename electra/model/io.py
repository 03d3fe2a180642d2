"""Standalone model folders: ``config.json`` (HF ``ElectraConfig`` form), ``model.safetensors``.

A folder written here is self-contained: the network's config, its full state dict (shared
embeddings included, so a generator folder carries its own copy) and the tokenizer files. Only
safetensors is read for weights, so nothing untrusted is ever unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from electra.config import ModelConfig
from electra.errors import ElectraError
from electra.files import write_json
from electra.hf import check_weights_file, layout_of, to_ours

ARCHITECTURES = {"Discriminator": "ElectraForPreTraining", "Generator": "ElectraForMaskedLM"}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


class WeightsMismatch(ElectraError):
    """The weights are readable but do not fit the model built from the config (keys or shapes)."""


def contiguous_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """State dict with every tensor cloned to its own contiguous CPU memory (ties broken)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_network(
    module: nn.Module,
    folder: Path,
    tokenizer_dir: Path | None = None,
    extra_config: dict | None = None,
    state: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write one network as a standalone folder (atomically replaced files); ``state`` replaces
    the module's own state dict (a sharded module's gathered weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    architecture = getattr(module, "architecture", None) or ARCHITECTURES[type(module).__name__]
    body = module.config.to_hf_dict(architecture)
    body.update(extra_config or {})
    write_json(folder / "config.json", body)
    weights = (
        contiguous_state(module)
        if state is None
        else {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    )
    write_weights(folder, weights)
    if tokenizer_dir is not None:
        copy_tokenizer(tokenizer_dir, folder)


def write_weights(folder: Path, state: dict[str, torch.Tensor]) -> None:
    """``folder/model.safetensors`` through a temporary file and an atomic rename."""
    tmp = folder / "model.safetensors.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, folder / "model.safetensors")


def network_folder(path: Path, part: str = "discriminator") -> Path:
    """The one network ``path`` stands for: the folder itself when it holds a ``config.json``,
    else its ``part`` (a run, pair or checkpoint), else its ``mlm`` network (an MLM run)."""
    path = Path(path)
    for candidate in (path, path / part, path / "mlm"):
        if (candidate / "config.json").is_file():
            return candidate
    raise ElectraError(
        f"{path}: no model to start from (expected config.json + model.safetensors, or the "
        f"{part}/ or mlm/ folder of a run written by 'electra pretrain')"
    )


def architecture_of(folder: Path) -> str | None:
    """The first of ``config.json``'s ``architectures`` (None when it names none)."""
    return (read_config(folder).get("architectures") or [None])[0]


def is_pair_generator(folder: Path) -> bool:
    """Whether ``folder`` is the generator of a pretraining pair (a run, checkpoint or the shipped
    pair): an ``ElectraForMaskedLM`` network named ``generator`` or beside a ``discriminator/``.

    An MLM run's ``mlm/`` network is the same class but the whole model (nothing else was
    pretrained), so the layout, not the class, tells them apart; a generator exported on its own
    has lost that layout and counts as any masked-LM model.
    """
    folder = Path(folder)
    if architecture_of(folder) != ARCHITECTURES["Generator"]:
        return False
    return folder.name == "generator" or (folder.parent / "discriminator" / "config.json").is_file()


def refuse_generator(folder: Path, action: str) -> None:
    """Refuse to ``action`` (fine-tune, ...) a pair's generator: its encoder is the narrow one
    (a quarter of the discriminator's width by default), never the model a user means."""
    if not is_pair_generator(folder):
        return
    sibling = Path(folder).parent / "discriminator"
    width = f"hidden size {read_config(folder).get('hidden_size')}"
    instead = "give a discriminator"
    if (sibling / "config.json").is_file():
        width += f", the discriminator's {read_config(sibling).get('hidden_size')}"
        instead = f"give {sibling.parent} or {sibling}"
    raise ElectraError(f"{folder}: the generator of a pretraining pair ({width}), not a model to {action}; {instead}")


def copy_tokenizer(src: Path, dst: Path) -> None:
    for name in TOKENIZER_FILES:
        if (src / name).is_file() and src.resolve() != dst.resolve():
            shutil.copyfile(src / name, dst / name)


def read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise ElectraError(f"{path}: not found (is {folder} a model folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ElectraError(f"{path}: not valid JSON ({exc})") from exc


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of ``folder/model.safetensors`` (never a pickle) under our key names.

    Folders in the ``transformers`` ELECTRA or BERT layout are read too: their keys are renamed
    by the layout named in ``config.json`` (:mod:`electra.hf`).
    """
    path = check_weights_file(folder)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ElectraError(f"{path}: not a readable safetensors file ({exc})") from exc
    config = read_config(folder) if (folder / "config.json").is_file() else {}
    return to_ours(state, layout_of(config, str(folder / "config.json")))


def load_state(module: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``module``; missing, unexpected or mis-shaped keys are errors."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsMismatch(
            f"{source}: keys do not match the model (missing: {missing[:5]}, unexpected: {unexpected[:5]})"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise WeightsMismatch(
                f"{source}: '{key}' has shape {tuple(tensor.shape)}, the config says {tuple(expected[key].shape)}"
            )
    module.load_state_dict(state)


def load_weights(module: nn.Module, folder: Path) -> None:
    """Load ``model.safetensors`` into ``module`` exactly (every key, every shape)."""
    load_state(module, read_weights(folder), folder / "model.safetensors")


def load_encoder(module: nn.Module, folder: Path) -> None:
    """Load only the ``electra.*`` encoder tensors of any ELECTRA network folder into ``module``
    (a task model); the pretraining heads in the file are dropped, the task head is kept."""
    prefix = "electra."
    encoder = {k[len(prefix) :]: v for k, v in read_weights(folder).items() if k.startswith(prefix)}
    load_state(module.electra, encoder, folder / "model.safetensors")


def load_network(cls: type[nn.Module], folder: Path) -> nn.Module:
    """Build ``cls`` from ``folder/config.json`` and load its weights."""
    cfg = ModelConfig.from_dict(read_config(folder), source=str(folder / "config.json"))
    module = cls(cfg)
    load_weights(module, folder)
    return module
