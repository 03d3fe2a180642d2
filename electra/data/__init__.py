"""Pretraining data: text input (``text``), example packing (``packing``), shard building
(``prepare``) and the batch stream the trainer reads (``loader``)."""
