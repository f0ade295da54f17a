"""accord.agents."""
