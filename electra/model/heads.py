"""Task heads on the discriminator's encoder, in ``transformers``' ELECTRA task layouts.

Each class has the state-dict keys of its ``transformers`` counterpart, so a fine-tuned model
exports by copying tensors:

- :class:`SequenceClassifier` = ``ElectraForSequenceClassification`` (classification and, with
  one output, regression). Two head forms:
  ``hf`` (the default): dropout, dense H->H, GELU, dropout, linear to the labels on [CLS], i.e.
  ``ElectraClassificationHead``, keys ``classifier.{dense,out_proj}``;
  ``reference``: dropout + one linear layer on [CLS], as in the paper's code (docs/recipe.md, "Fine-tuning").
  ``hf`` is the default because a model fine-tuned with it loads in ``transformers`` unchanged;
  the reference form has no ``transformers`` class and cannot be exported exactly.
- :class:`TokenClassifier` = ``ElectraForTokenClassification``: dropout + linear per token.
- :class:`SpanExtractor` = ``ElectraForQuestionAnswering``: one linear layer giving start and
  end logits per token. The reference code adds an answerability classifier for SQuAD 2.0;
  here "no answer" is the span [CLS]..[CLS] as in BERT's SQuAD 2.0 recipe and in
  ``transformers``, so the exported model keeps its no-answer behaviour.

``electra.*`` is the same encoder the pretraining discriminator has: loading a pretrained
discriminator (or any ``ElectraFor*`` folder) means loading the ``electra.*`` tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from electra.config import ModelConfig
from electra.model.dropout import Dropout
from electra.model.encoder import ElectraModel, init_weights


class ClassificationHead(nn.Module):
    """[CLS] vector -> label logits, in the ``hf`` or the ``reference`` form (see module doc)."""

    def __init__(self, cfg: ModelConfig, num_labels: int, dropout: float, form: str) -> None:
        super().__init__()
        self.form = form
        self.dropout = Dropout(dropout)
        if form == "hf":
            self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.out_proj = nn.Linear(cfg.hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])  # (B, H): the [CLS] position
        if self.form == "hf":
            x = self.dropout(F.gelu(self.dense(x)))
        return self.out_proj(x)  # (B, num_labels)


class TaskModel(nn.Module):
    """Encoder + one head; subclasses say which head and what ``forward`` returns."""

    architecture: str

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.electra = ElectraModel(cfg)

    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return self.electra(input_ids, attention_mask, token_type_ids)  # (B, T, H)


class SequenceClassifier(TaskModel):
    """``forward`` -> (B, num_labels) logits; num_labels == 1 is regression."""

    architecture = "ElectraForSequenceClassification"

    def __init__(self, cfg: ModelConfig, num_labels: int, dropout: float = 0.1, form: str = "hf") -> None:
        super().__init__(cfg)
        self.classifier = ClassificationHead(cfg, num_labels, dropout, form)
        init_weights(self, cfg.initializer_range)

    def forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        return self.classifier(self.encode(input_ids, attention_mask, token_type_ids))


class TokenClassifier(TaskModel):
    """``forward`` -> (B, T, num_labels) logits."""

    architecture = "ElectraForTokenClassification"

    def __init__(self, cfg: ModelConfig, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__(cfg)
        self.dropout = Dropout(dropout)
        self.classifier = nn.Linear(cfg.hidden_size, num_labels)
        init_weights(self, cfg.initializer_range)

    def forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        return self.classifier(self.dropout(self.encode(input_ids, attention_mask, token_type_ids)))


class SpanExtractor(TaskModel):
    """``forward`` -> (B, T, 2): start and end logits per token."""

    architecture = "ElectraForQuestionAnswering"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.qa_outputs = nn.Linear(cfg.hidden_size, 2)
        init_weights(self, cfg.initializer_range)

    def forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        return self.qa_outputs(self.encode(input_ids, attention_mask, token_type_ids))
