"""Ready-made example teams, one per collaboration pattern, runnable on the embedded model."""

from accord.graphs.examples.onboarding import ONBOARDING_ROUTES, onboarding, onboarding_team
from accord.graphs.examples.registry import EXAMPLES, ExampleSpec
from accord.graphs.examples.teams import (
    care_coordination,
    credit_risk,
    ecommerce,
    finance_monitoring,
    project_coordination,
    tech_support,
)

__all__ = [
    "EXAMPLES",
    "ONBOARDING_ROUTES",
    "ExampleSpec",
    "care_coordination",
    "credit_risk",
    "ecommerce",
    "finance_monitoring",
    "onboarding",
    "onboarding_team",
    "project_coordination",
    "tech_support",
]
