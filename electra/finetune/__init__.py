"""Fine-tuning the discriminator: tasks, data, heads, training, metrics."""
