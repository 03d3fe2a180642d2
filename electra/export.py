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
"""

from __future__ import annotations

from pathlib import Path

from electra.errors import ElectraError
from electra.files import write_json
from electra.hf import ELECTRA, to_theirs
from electra.model.io import copy_tokenizer, network_folder, read_config, read_weights, write_weights

OWN_KEYS = ("electra_task", "electra_schema_version")
"""Config entries only this package reads; left out of an export."""


def source_folder(src: Path, part: str) -> Path:
    """The one network folder ``src`` stands for (see the module docstring)."""
    src = Path(src)
    if not (src / "config.json").is_file() and (src / "results.json").is_file():
        from electra.finetune.run import finetuned_folder  # a fine-tuning run: its best seed

        return finetuned_folder(src)
    return network_folder(src, part)


def export(src: Path, out: Path, part: str = "discriminator") -> Path:
    """Write ``out`` (config.json, model.safetensors, tokenizer files); return the source folder."""
    if part not in ("discriminator", "generator"):
        raise ElectraError(f"invalid --part {part!r}: use 'discriminator' or 'generator'")
    folder = source_folder(src, part)
    config = read_config(folder)
    if config.get("electra_task", {}).get("settings", {}).get("head") == "reference":
        raise ElectraError(f"{folder}: fine-tuned with --head reference (dropout + linear), which no "
                           "transformers class has; fine-tune with the default --head hf to export")
    if Path(out).resolve() == folder.resolve():
        raise ElectraError(f"{out}: the export folder must differ from the model folder")
    state = to_theirs(read_weights(folder), ELECTRA)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # fp32, the dtype our models compute in (the shipped pair is stored in fp16 to save space)
    write_weights(out, {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in state.items()})
    write_json(out / "config.json", {k: v for k, v in config.items() if k not in OWN_KEYS})
    copy_tokenizer(folder, out)
    return folder
