"""Model ids, the embedded model, structured output, model chains, circuit breakers, and flows.

A flow (`flow.py`) is a loop written once for `invoke` and `ainvoke`: the model chain,
`structured()`'s re-ask and the graphs' agent nodes are flows.
"""
