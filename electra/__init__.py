"""ELECTRA: replaced token detection pretraining, an MLM baseline and fine-tuning in PyTorch."""

__version__ = "0.1.0"
