"""The training engine: budget, checkpoints and resume, the decoded-clip cache, augmentation (task-agnostic)."""
