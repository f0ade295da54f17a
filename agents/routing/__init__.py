"""The scoring router's parts: fits, strategies, performance history, load and forecasts.

`accord.agents` exports the `Router` itself; what a user plugs into it lives here.
"""

from accord.agents.routing.examples import pick_examples
from accord.agents.routing.fit import (
    Calibration,
    CallableFit,
    EmbeddingFit,
    FitScorer,
    Match,
    embedding_fit,
)
from accord.agents.routing.forecast import ArrivalForecast
from accord.agents.routing.hybrid import HybridFit, hybrid_fit
from accord.agents.routing.lexical import LexicalFit
from accord.agents.routing.load import LoadCounter
from accord.agents.routing.minilm import MiniLM
from accord.agents.routing.mpnet import MPNet
from accord.agents.routing.performance import PerformanceHistory
from accord.agents.routing.router import Decision
from accord.agents.routing.shared_load import SharedLoad
from accord.agents.routing.strategies import (
    FullScore,
    LeastBusy,
    Predictive,
    RoundRobin,
    Specialization,
    Strategy,
    Terms,
)

__all__ = [
    "ArrivalForecast",
    "Calibration",
    "CallableFit",
    "Decision",
    "EmbeddingFit",
    "FitScorer",
    "FullScore",
    "HybridFit",
    "LeastBusy",
    "LexicalFit",
    "LoadCounter",
    "MPNet",
    "Match",
    "MiniLM",
    "PerformanceHistory",
    "Predictive",
    "RoundRobin",
    "SharedLoad",
    "Specialization",
    "Strategy",
    "Terms",
    "embedding_fit",
    "hybrid_fit",
    "pick_examples",
]
