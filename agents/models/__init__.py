"""Model ids, the embedded model, structured output, model chains, circuit breakers, and flows.

A flow (`flow.py`) is a loop written once for `invoke` and `ainvoke`: the model chain,
`structured()`'s re-ask and the graphs' agent nodes are flows. `accord.agents` exports what
most users need (`ChainPolicy`, `breakers()`, `model_chain`); the settings they are made of
(backoff, breakers, time limits) live here.
"""

from accord.agents.models.breaker import Breakers, BreakerSettings
from accord.agents.models.chain import Backoff
from accord.agents.models.timeouts import Timeouts

__all__ = ["Backoff", "BreakerSettings", "Breakers", "Timeouts"]
