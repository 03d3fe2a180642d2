"""ELECTRA 15%: the paper's ablation whose discriminator loss counts only the selected positions."""

from __future__ import annotations

import torch

from electra.objectives.electra import ElectraObjective, RtdForward


class Electra15Objective(ElectraObjective):
    """As ``electra``, but the discriminator's loss (and statistics) cover only the ~15% of tokens
    selected for masking (the paper's Table 5 "ELECTRA 15%")."""

    name = "electra15"

    def scored(self, out: RtdForward, attention_mask: torch.Tensor) -> torch.Tensor:
        return out.selection.mask.long()
