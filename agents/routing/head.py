"""A trained head for the embedding fit: a linear classifier over the team's own text vectors.

Each of an agent's texts (description, skills, examples) is a labelled point for that agent; a
multinomial logistic regression on their (centred, unit) vectors learns which directions tell
the agents apart, where the nearest-text similarity weighs every direction alike. It is
fitted at construction on the team's texts only (never on requests), deterministically (zero
start, a fixed number of Adam steps), and kept per embeddings object and team, so rebuilding
a router trains nothing again.

On HWU64 (bench/routing_quality.py, chosen on the training fold) its probability, added to the
similarity at weight 0.2, leaves accuracy as it was and rejects more out-of-scope requests
at the same cost in in-scope accuracy. Alone it routes worse than the nearest text (0.89
against 0.91 with 5 examples per agent): it is a correction, not a replacement.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

SCALE = 10.0
"""Vectors are multiplied by this before the regression: unit vectors' dot products are small,
and the penalty below is tuned at this scale."""
PENALTY = 1e-3
"""L2 penalty on the weights (HWU64 training fold: 1e-4 to 1e-2 tried)."""
STEPS = 300
RATE = 0.1
KEPT = 64
"""Heads kept per embeddings object (least recently used dropped): one per team."""

Matrix = np.ndarray[Any, np.dtype[np.floating[Any]]]


@dataclass(frozen=True, slots=True)
class Head:
    """Weights `(dimensions, agents)` and a bias per agent, over vectors times `SCALE`."""

    weights: Matrix
    bias: Matrix

    def probabilities(self, query: Matrix) -> Matrix:
        """The probability of each agent for one centred unit `query` vector."""
        z: Matrix = query @ self.weights + self.bias
        z = np.exp(z - z.max())
        probabilities: Matrix = z / z.sum()
        return probabilities


def train(matrix: Matrix, owners: Sequence[int], size: int) -> Head:
    """Fit the head on `matrix`'s rows, row i labelled with agent `owners[i]` of `size`."""
    x = np.asarray(matrix, dtype=np.float64) * SCALE
    n, dimensions = x.shape
    target = np.eye(size)[np.asarray(owners)]
    weights, bias = np.zeros((dimensions, size)), np.zeros(size)
    moments = [np.zeros_like(weights), np.zeros_like(weights), np.zeros(size), np.zeros(size)]
    for step in range(1, STEPS + 1):
        z = x @ weights + bias
        p = np.exp(z - z.max(axis=1, keepdims=True))
        error = p / p.sum(axis=1, keepdims=True) - target
        gradients = (x.T @ error / n + PENALTY * weights, error.mean(axis=0))
        for k, (value, gradient) in enumerate(zip((weights, bias), gradients, strict=True)):
            first, second = moments[2 * k], moments[2 * k + 1]
            first += 0.1 * (gradient - first)
            second += 0.001 * (gradient * gradient - second)
            correct_first, correct_second = 1 - 0.9**step, 1 - 0.999**step
            value -= RATE * (first / correct_first) / (np.sqrt(second / correct_second) + 1e-8)
    scale = np.float32(SCALE)
    return Head((weights * scale).astype(np.float32), bias.astype(np.float32))


_HEADS: weakref.WeakKeyDictionary[Embeddings, OrderedDict[tuple[Any, ...], Head]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def trained_head(
    embeddings: Embeddings, texts: Sequence[str], owners: Sequence[int], matrix: Matrix, size: int
) -> Head:
    """The head for this team (its texts and their owners), trained once per embeddings."""
    key = (tuple(texts), tuple(owners), size)
    with _LOCK:
        try:
            kept = _HEADS.setdefault(embeddings, OrderedDict())
        except TypeError:  # not weakly referenceable: train for this fit only
            kept = OrderedDict()
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    head = train(matrix, owners, size)
    with _LOCK:
        kept[key] = head
        while len(kept) > KEPT:
            kept.popitem(last=False)
    return head
