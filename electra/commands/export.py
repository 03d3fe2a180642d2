"""``electra export``: a model folder that ``transformers`` loads with ``from_pretrained``.

Our networks already carry ``transformers``' ELECTRA parameter names and an ``ElectraConfig``
body, so exporting is choosing the network, writing its tensors under the ELECTRA layout
(:func:`electra.hf.to_theirs`), dropping this package's own config entries, and copying the
tokenizer files ``AutoTokenizer`` reads. What it gives:

- a pretraining run / pair / checkpoint -> its ``discriminator`` (``ElectraForPreTraining``) or,
  with ``part="generator"``, its generator (``ElectraForMaskedLM``); an MLM run -> its ``mlm``
  network (``ElectraForMaskedLM``);
- a fine-tuning run (its best seed) or one ``seed-N`` folder -> ``ElectraForSequenceClassification``
  / ``ElectraForTokenClassification`` / ``ElectraForQuestionAnswering`` with the labels as
  ``id2label``. A model fine-tuned with ``--head reference`` has no ``transformers`` class and
  is refused.

What it refuses, before writing anything: ``--part discriminator`` (the default) on a pair's
generator folder and ``--part generator`` on anything but a masked-LM network (a discriminator,
a fine-tuned model, an MLM run, which has no generator), so the network written is always the
one asked for; and an ``OUT`` that holds anything but an earlier export (a fine-tuning run, a
pretraining run, other files): never written into. An earlier export is replaced only with
``overwrite`` (its files that the new export does not write are removed, so nothing mixes).
"""

from __future__ import annotations

from pathlib import Path

from electra.errors import ElectraError
from electra.files import earlier_output, make_folder, write_json
from electra.hf import ELECTRA, to_theirs
from electra.model.io import (
    ARCHITECTURES,
    TOKENIZER_FILES,
    architecture_of,
    copy_tokenizer,
    is_pair_generator,
    network_folder,
    read_config,
    read_weights,
    write_weights,
)

OWN_KEYS = ("electra_task", "electra_schema_version")
"""Config entries only this package reads; left out of an export."""
MODEL_FILES = ("config.json", "model.safetensors", *TOKENIZER_FILES)
"""What an export writes: an ``OUT`` holding only these is an earlier export."""
MASKED_LM = (ARCHITECTURES["Generator"], "BertForMaskedLM")
"""Architectures ``--part generator`` exports: a generator (a lone one: any masked-LM network)."""


def source_folder(src: Path, part: str) -> Path:
    """The one network folder ``src`` stands for (see the module docstring)."""
    src = Path(src)
    if not (src / "config.json").is_file() and (src / "results.json").is_file():
        from electra.finetune.run import finetuned_folder  # a fine-tuning run: its best seed

        return finetuned_folder(src)
    return network_folder(src, part)


def check_part(src: Path, folder: Path, part: str) -> None:
    """The network found is the one ``part`` asks for (a generator is never exported by default)."""
    if part == "discriminator" and is_pair_generator(folder):
        raise ElectraError(
            f"{folder}: the generator of a pretraining pair; export it with --part generator, "
            f"or give {folder.parent} for the discriminator"
        )
    if part != "generator":
        return
    architecture = architecture_of(folder)
    if architecture not in MASKED_LM:
        raise ElectraError(
            f"--part generator, but {folder} is {architecture or 'no known architecture'}, "
            "not a generator; leave out --part to export it"
        )
    if Path(src).resolve() != folder.resolve() and folder.name != "generator":
        raise ElectraError(
            f"--part generator, but {src} has no generator/ (an MLM run: its {folder.name}/ "
            "network is exported without --part)"
        )


def check_out(out: Path, overwrite: bool) -> list[Path]:
    """Refuse an ``out`` holding anything but an earlier export, and an earlier export without
    ``overwrite``; return the earlier export's files (to remove those not written again)."""
    return earlier_output(out, lambda p: p.name in MODEL_FILES and p.is_file(), "an earlier export", overwrite)


def export(src: Path, out: Path, part: str = "discriminator", overwrite: bool = False) -> Path:
    """Write ``out`` (config.json, model.safetensors, tokenizer files); return the source folder."""
    if part not in ("discriminator", "generator"):
        raise ElectraError(f"invalid --part {part!r}: use 'discriminator' or 'generator'")
    folder = source_folder(src, part)
    check_part(src, folder, part)
    config = read_config(folder)
    if config.get("electra_task", {}).get("settings", {}).get("head") == "reference":
        raise ElectraError(
            f"{folder}: fine-tuned with --head reference (dropout + linear), which no "
            "transformers class has; fine-tune with the default --head hf to export"
        )
    out = Path(out)
    if out.resolve() == folder.resolve():
        raise ElectraError(f"{out}: the export folder must differ from the model folder")
    earlier = check_out(out, overwrite)
    state = to_theirs(read_weights(folder), ELECTRA)
    make_folder(out)
    # fp32, the dtype our models compute in (the shipped pair is stored in fp16 to save space)
    write_weights(out, {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in state.items()})
    write_json(out / "config.json", {k: v for k, v in config.items() if k not in OWN_KEYS})
    copy_tokenizer(folder, out)
    for stale in earlier:  # an earlier export's tokenizer files this source does not have
        if not (folder / stale.name).is_file() and stale.name not in ("config.json", "model.safetensors"):
            stale.unlink()
    return folder
