"""The catalogue of example teams, so the CLI and tests can iterate them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from accord.evals.teams.onboarding import onboarding
from accord.evals.teams.teams import (
    care_coordination,
    credit_risk,
    ecommerce,
    finance_monitoring,
    project_coordination,
    tech_support,
)

Pattern = Literal["handoff", "consultation", "delegation", "consensus", "routed"]


@dataclass(frozen=True)
class ExampleSpec:
    """One example team.

    Attributes:
        build: Builds the compiled graph; takes keyword `checkpointer` and `models`.
        pattern: The collaboration pattern it shows.
        description: One line for listings.
        sample: An input that exercises it.
    """

    build: Callable[..., Any]
    pattern: Pattern
    description: str
    sample: str


EXAMPLES: dict[str, ExampleSpec] = {
    "onboarding": ExampleSpec(
        onboarding,
        "handoff",
        "Customer onboarding: intake, verification, setup, support.",
        "Hi, I'm Ana Silva and I'd like a savings account.",
    ),
    "tech_support": ExampleSpec(
        tech_support,
        "consultation",
        "Support consults diagnostics and network specialists.",
        "My laptop keeps dropping Wi-Fi every few minutes since an update.",
    ),
    "project": ExampleSpec(
        project_coordination,
        "delegation",
        "A coordinator splits work among resources, timeline and risk.",
        "Plan the migration of our website to a new host within two months.",
    ),
    "credit": ExampleSpec(
        credit_risk,
        "consensus",
        "Credit history, market and compliance vote approve, reject or refer.",
        "Loan of 20000 EUR for a bakery; owner paid all past loans on time; sector is stable.",
    ),
    "finance": ExampleSpec(
        finance_monitoring,
        "routed",
        "Routes to market risk, fraud or liquidity.",
        "Three card payments from different countries within an hour on one account.",
    ),
    "care": ExampleSpec(
        care_coordination,
        "routed",
        "Routes to scheduling, medication or billing.",
        "I need a refill of my blood pressure prescription.",
    ),
    "ecommerce": ExampleSpec(
        ecommerce,
        "routed",
        "Routes to orders, returns or products.",
        "My order 1042 has not arrived after ten days.",
    ),
}
