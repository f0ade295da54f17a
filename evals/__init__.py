"""accord.evals: offline evaluation on recorded model responses (see the evaluation issue)."""
