"""The write path: applying batches exactly once, checkpoints and recovery, churn announcing."""
