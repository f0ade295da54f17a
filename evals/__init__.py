"""accord.evals."""
