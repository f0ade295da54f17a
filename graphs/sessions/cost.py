"""What model calls cost: a price table per model, in one currency, for `Limits(cost=...)`.

The budget meter prices each call before it is sent (the prompt estimate and the completion
allowance, reserved as tokens are) and settles it with the tokens the provider reports. A
model is found in the table by LangChain's own description of the call (`ls_provider`,
`ls_model_name`): `"openai:gpt-4o-mini"`, then the model's name, then its provider. The
embedded models (provider `local`) cost 0.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.outputs import LLMResult

from accord.graphs.errors import InvalidPrice, UnpricedModel

PRICES_ENV = "ACCORD_PRICES"
"""A JSON file of prices (`{"currency": "USD", "models": {id: {prompt, completion, per}}}`)
that `Prices.default()` reads."""


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price: `prompt` and `completion` per `per` tokens (1, 1000, 1_000_000)."""

    prompt: float
    completion: float
    per: int = 1

    def __post_init__(self) -> None:
        for name in ("prompt", "completion"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidPrice(f"a {name} price must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise InvalidPrice(f"a {name} price must be 0 or more, got {value!r}")
        if isinstance(self.per, bool) or not isinstance(self.per, int) or self.per < 1:
            raise InvalidPrice(f"prices are per 1 or more tokens (per=1000...), got {self.per!r}")

    def of(self, tokens_in: int, tokens_out: int) -> float:
        """What `tokens_in` prompt and `tokens_out` completion tokens cost."""
        return (tokens_in * self.prompt + tokens_out * self.completion) / self.per


FREE = Price(0.0, 0.0)


class Prices:
    """A price table: what each model's tokens cost, in one currency.

    Args:
        models: Model id (`"openai:gpt-4o-mini"`, or a model name, or a provider) to a
            `Price` or `{"prompt": ..., "completion": ..., "per": 1000}`.
        currency: What the prices, `Limits(cost=...)` and `Usage.cost` are counted in.

    Raises:
        InvalidPrice: A negative or non-numeric price, or a `per` below 1; nothing is kept.

    Example:
        ```python
        prices = Prices({"openai:gpt-4o-mini": {"prompt": 0.15, "completion": 0.6,
                                                 "per": 1_000_000}}, currency="USD")
        Sessions(graph, db=url, prices=prices)  # then Limits(cost=0.50) per session
        ```
    """

    def __init__(self, models: Mapping[str, Price | Mapping[str, Any]], *, currency: str = "USD"):
        if not isinstance(currency, str) or not currency.strip():
            raise InvalidPrice(f"a currency is a name such as 'USD', got {currency!r}")
        self.currency = currency
        self.models: dict[str, Price] = {"local": FREE}
        for model, price in models.items():
            self.models[model] = price if isinstance(price, Price) else _price(model, price)

    @classmethod
    def default(cls) -> Prices:
        """The embedded models at 0, and the prices in the `ACCORD_PRICES` file, if set."""
        path = os.environ.get(PRICES_ENV)
        return cls({}) if not path else cls.from_file(path)

    @classmethod
    def from_file(cls, path: str | Path) -> Prices:
        """The table in a JSON file: `{"currency": "USD", "models": {id: {prompt, ...}}}`."""
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidPrice(f"cannot read the price table {str(path)!r}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
            raise InvalidPrice(f"the price table {str(path)!r} needs a 'models' object")
        return cls(document["models"], currency=document.get("currency", "USD"))

    def of(self, metadata: Mapping[str, Any] | None) -> tuple[str, Price | None]:
        """The model a call's metadata names, and its price (None if the table has none)."""
        metadata = metadata or {}
        provider, name = metadata.get("ls_provider"), metadata.get("ls_model_name")
        model = f"{provider}:{name}" if provider and name else str(name or provider or "?")
        for key in (model, name, provider):
            if isinstance(key, str) and key in self.models:
                return model, self.models[key]
        return model, None


def reported_tokens(response: LLMResult) -> tuple[int, int]:
    """The prompt and completion tokens a model call's provider reported (0 if it did not)."""
    tokens_in = tokens_out = 0
    for batch in response.generations:
        for generation in batch:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                tokens_in += usage.get("input_tokens", 0)
                tokens_out += usage.get("output_tokens", 0)
    return tokens_in, tokens_out


@dataclass
class CostLedger:
    """The money of one run's calls in flight: each call's price and reserved cost, by run id.

    Kept by the budget meter under its lock, beside the tokens it reserves the same way.
    """

    reserved: float = 0.0
    open: dict[UUID, tuple[Price, float]] = field(default_factory=dict)

    def reserve(
        self,
        run_id: UUID,
        priced: tuple[str, Price | None],
        limit: float | None,
        spent: float,
        prompt: int,
        reservation: int,
    ) -> bool:
        """Reserves a call's cost (its prompt, plus its completion allowance); False if that
        would overrun `limit` given what was `spent`.

        As with tokens, a lone call may always try with what is left once its prompt fits.

        Raises:
            UnpricedModel: `limit` is set and the table has no price for the call's model.
        """
        model, price = priced
        if price is None:
            if limit is not None:
                raise UnpricedModel(
                    f"the session has a cost limit but no price for model {model!r}: add it to "
                    "the Prices of Sessions(prices=...) or the ACCORD_PRICES file"
                )
            return True  # no limit to keep, and nothing known to count
        cost = price.of(prompt, reservation - prompt)
        committed = spent + self.reserved
        if (
            limit is not None
            and committed + cost > limit
            and (self.reserved or committed + price.of(prompt, 0) >= limit)
        ):
            return False
        self.reserved += cost
        self.open[run_id] = (price, cost)
        return True

    def settle(self, run_id: UUID, tokens_in: int, tokens_out: int) -> float:
        """Ends a call's reservation; what the tokens it reported cost."""
        entry = self.open.pop(run_id, None)
        if entry is None:
            return 0.0
        price, cost = entry
        self.reserved -= cost
        return price.of(tokens_in, tokens_out)


def _price(model: str, entry: Any) -> Price:
    if not isinstance(entry, Mapping) or not {"prompt", "completion"} <= set(entry):
        raise InvalidPrice(
            f"the price of {model!r} needs 'prompt' and 'completion' (and 'per', default 1)"
        )
    unknown = set(entry) - {"prompt", "completion", "per"}
    if unknown:
        raise InvalidPrice(f"the price of {model!r} has unknown fields {sorted(unknown)}")
    try:
        return Price(entry["prompt"], entry["completion"], entry.get("per", 1))
    except InvalidPrice as exc:
        raise InvalidPrice(f"the price of {model!r}: {exc}") from None
