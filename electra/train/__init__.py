"""Training loop, optimizer, checkpoints."""
