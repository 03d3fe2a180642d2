"""Inputs shared by the parity tests against transformers."""

import pytest
import torch


@pytest.fixture
def hf_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ids, attention mask (second row padded from 8) and segment ids (B from 6), seeded."""
    torch.manual_seed(0)
    ids = torch.randint(5, 120, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    return ids, mask, types
