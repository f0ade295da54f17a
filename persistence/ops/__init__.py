"""The sans-IO operation type and the two drivers that run it, one sync and one async."""
