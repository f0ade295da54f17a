"""accord.app."""
