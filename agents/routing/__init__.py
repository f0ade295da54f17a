"""The scoring router: strategies, specialization fit, forecasts, performance history, load."""
