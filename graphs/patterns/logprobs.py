"""The model router by log-probabilities: the model starts an agent's name, in one token.

The model is asked for the name of the shortlisted agent only, and generates one token
(`max_tokens=1`): one pass over the prompt instead of a JSON object, and never a malformed
answer. The provider's `top_logprobs` for that token make the model's distribution over the
shortlist (a token that begins one agent's name counts for it; one that begins several is
shared), combined with the scoring router's own distribution over the same agents (a product
of experts: `p ∝ p_fit^(1 - weight) * p_model^weight`). A provider that returns no
log-probabilities gets the structured route instead.

Why names and not numbers 1..n: on HWU64's training fold the embedded 1.5B model answered a
numbered shortlist of 3 with about the same odds whatever the request (0.4 / 0.25 / 0.35; its
first choice right 6 times of 19), and a name right 12 times of 17, mostly with odds of 0.7-0.9.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AnyMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from accord.agents import Agent, Decision, Invoke, model_chain, resolve_model
from accord.graphs.patterns.routes import Route, with_examples
from accord.graphs.prompts import brief, identity
from accord.persistence import Flow

WEIGHT = 0.3
"""The model's share in the product of experts (0: the fit alone, 1: the model alone), for
`ModelRouter(weight=WEIGHT)`: the embedded 1.5B model with the embedding fit's best 3 routed
344 HWU64 training requests best at 0.3 (303 right; the fit alone 299, the model alone 262;
`bench/routing_logprobs.py`). On the 200 test requests that is 0.900, the fit alone 0.905."""
TOP_LOGPROBS = 10
"""How many of the likeliest first tokens the provider reports (OpenAI allows up to 20): the
same name comes in several spellings ("take", " takeaway", "Take")."""
FLOOR = 1e-6
"""The least probability a shortlisted agent gets, so that no expert vetoes an agent."""


def named_prompt(
    agent: Agent, shown: Sequence[Agent], messages: Sequence[AnyMessage]
) -> list[AnyMessage]:
    """The prompt asking `agent`'s model for the name of the agent of `shown` who should
    answer the user's last message (the shortlist, likeliest first, with example requests)."""
    lines = [
        *identity(agent),
        "Choose who should answer the user's last message:",
        *with_examples(shown),
        f"Reply with the name of that agent only ({', '.join(a.name for a in shown)}).",
    ]
    return brief(lines, messages)


def model_distribution(message: BaseMessage, names: Sequence[str]) -> list[float] | None:
    """The model's probabilities of `names`, from the first token's `top_logprobs` in the
    reply's metadata (OpenAI's form, which llama.cpp serves too).

    A token counts for the names it begins, or that begin it (any case, spaces aside), shared
    evenly among them. A name no top token begins gets what the listed tokens leave, shared
    among such names, but never more than the least listed token (it was not among them).
    Returns None when the reply carries no log-probabilities; a uniform distribution when no
    top token begins a name.
    """
    tops = _top_logprobs(message.response_metadata)
    if tops is None:
        return None
    lowered = [n.lower() for n in names]
    found = [0.0] * len(names)
    listed: list[float] = []
    for token, logprob in tops:
        p = math.exp(logprob)
        listed.append(p)
        word = token.strip().lower()
        hits = [
            k for k, n in enumerate(lowered) if word and (n.startswith(word) or word.startswith(n))
        ]
        for k in hits:
            found[k] += p / len(hits)
    missing = [k for k, p in enumerate(found) if p == 0.0]
    if len(missing) == len(names):
        return [1 / len(names)] * len(names)
    if missing:
        left = max(0.0, 1.0 - sum(listed)) / len(missing)
        for k in missing:
            found[k] = max(FLOOR, min(left, min(listed)))
    return _normalised(found)


def _top_logprobs(metadata: Mapping[str, Any]) -> list[tuple[str, float]] | None:
    """The first generated token's alternatives as (token, log-probability), or None."""
    logprobs = metadata.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not content:
        return None
    first = content[0]
    tops = first.get("top_logprobs") or [first]
    return [(str(t["token"]), float(t["logprob"])) for t in tops if "logprob" in t]


def fit_distribution(decision: Decision | None, names: Sequence[str]) -> list[float]:
    """The scoring router's distribution over `names`: their relative fits, normalised
    (uniform when there is no decision or it reads no fit)."""
    fit = decision.terms.fit if decision is not None else None
    if fit is None or decision is None:
        return [1 / len(names)] * len(names)
    index = {name: i for i, name in enumerate(decision.names)}
    return _normalised([max(FLOOR, fit[index[n]]) for n in names])


def combined(fit: Sequence[float], model: Sequence[float], weight: float) -> list[float]:
    """The product of experts `fit^(1 - weight) * model^weight`, normalised."""
    return _normalised(
        [
            math.exp((1 - weight) * math.log(max(f, FLOOR)) + weight * math.log(max(m, FLOOR)))
            for f, m in zip(fit, model, strict=True)
        ]
    )


def _normalised(values: Sequence[float]) -> list[float]:
    total = sum(values)
    return [v / total for v in values]


def rounded(values: Sequence[float]) -> list[float]:
    """A distribution as kept in a route: three decimals."""
    return [round(v, 3) for v in values]


class LogprobChooser:
    """Asks a router agent's models for a shortlisted agent's name in one token, and combines
    the model's distribution (its log-probabilities) with the fit's.

    Args:
        agent: The agent whose models and instructions choose.
        agents: The team.
        weight: The model's share in the product of experts, in [0, 1].
    """

    def __init__(self, agent: Agent, agents: Sequence[Agent], weight: float) -> None:
        self.agent = agent
        self.agents = {a.name: a for a in agents}
        self.weight = weight
        self.served = True
        """False once a reply came without log-probabilities: the provider gives none, so
        the structured route is taken from then on instead of asking this way first."""
        self._chain: Runnable[Any, Any] | None = None

    def asks(self, names: Sequence[str]) -> bool:
        """Whether a choice among `names` is asked this way (a shortlist, and a provider that
        gives log-probabilities)."""
        return self.served and len(names) >= 2

    def choose(
        self,
        messages: Sequence[AnyMessage],
        names: Sequence[str],
        decision: Decision | None,
        config: RunnableConfig | None,
    ) -> Flow[Route | None]:
        """The route among `names` (the shortlist, best first), or None when they are not
        asked this way (no shortlist, or a provider that gives no log-probabilities): the
        caller asks the structured way."""
        if not self.asks(names):
            return None
        prompt = named_prompt(self.agent, [self.agents[n] for n in names], messages)
        reply = yield Invoke(self._asking(), prompt, config)
        model = model_distribution(reply, names)
        if model is None:
            self.served = False
            return None
        fit = fit_distribution(decision, names)
        both = combined(fit, model, self.weight)
        best = max(range(len(names)), key=both.__getitem__)
        said = max(range(len(names)), key=model.__getitem__)
        return {
            "agent": names[best],
            "reason": (
                f"{names[best]} at {both[best]:.2f} (the model said {names[said]} at "
                f"{model[said]:.2f}; the fit {fit[best]:.2f})"
            ),
            "by": "model",
            "shortlist": list(names),
            "distributions": {
                "fit": rounded(fit),
                "model": rounded(model),
                "combined": rounded(both),
            },
        }

    def _asking(self) -> Runnable[Any, Any]:
        """The agent's model chain asked for one token with its top log-probabilities."""
        if self._chain is None:
            models = [resolve_model(m) for m in self.agent.models]
            self._chain = model_chain(
                models,
                lambda m: m.bind(logprobs=True, top_logprobs=TOP_LOGPROBS, max_tokens=1),
            )
        return self._chain
