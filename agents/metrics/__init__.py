"""Reliability metrics: step events, the figures computed from them, the recorder, export."""
