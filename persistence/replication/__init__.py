"""Replicated checkpoints: the replicated saver, the health of its copies, and verification."""
