"""Encoder, heads and model folders."""
