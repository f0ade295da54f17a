"""Model ids, the embedded model, structured output, model chains and circuit breakers."""
