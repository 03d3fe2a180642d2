"""Pretraining objectives, by name.

Every objective is an :class:`~electra.objectives.base.Objective` in a module of its own, built
from the shared pieces in :mod:`electra.objectives.pieces`. Adding one is a new module and its
line in ``OBJECTIVES``: the trainer, FLOPs accounting, ``pretrain --objective``, ``compare
--arms`` and ``bench`` read the registry. The paper's Table 5 compares them:

- ``electra``: replaced token detection over every token (the paper's method);
- ``electra15``: the same, its discriminator loss over the ~15% selected positions only;
- ``replace-mlm``: MLM whose selected positions hold generator samples instead of [MASK];
- ``all-tokens-mlm``: generator samples in, the original predicted at every position (copy mechanism);
- ``mlm``: BERT's masked LM, the baseline.
"""

from __future__ import annotations

from electra.errors import ElectraError
from electra.objectives.all_tokens_mlm import AllTokensMlmObjective
from electra.objectives.base import Health, LossTerm, Objective, Selection, StepOutput
from electra.objectives.electra import ElectraObjective, RtdForward
from electra.objectives.electra15 import Electra15Objective
from electra.objectives.mlm import MlmObjective
from electra.objectives.replace_mlm import ReplaceMlmObjective

OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls
    for cls in (
        ElectraObjective,
        Electra15Objective,
        ReplaceMlmObjective,
        AllTokensMlmObjective,
        MlmObjective,
    )
}


NETWORK_FOLDERS: tuple[str, ...] = tuple(dict.fromkeys(name for cls in OBJECTIVES.values() for name in cls.folders))
"""Every model folder name a pretraining run of any objective writes."""


def objective_class(name: str) -> type[Objective]:
    """The objective registered as ``name``; an error naming the choices otherwise."""
    if name not in OBJECTIVES:
        raise ElectraError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


__all__ = [
    "NETWORK_FOLDERS",
    "OBJECTIVES",
    "AllTokensMlmObjective",
    "Electra15Objective",
    "ElectraObjective",
    "Health",
    "LossTerm",
    "MlmObjective",
    "Objective",
    "ReplaceMlmObjective",
    "RtdForward",
    "Selection",
    "StepOutput",
    "objective_class",
]
