"""Ready-made example teams, one per collaboration pattern, runnable on the embedded model."""

from accord.evals.teams.onboarding import ONBOARDING_ROUTES, onboarding, onboarding_team
from accord.evals.teams.registry import EXAMPLES, ExampleSpec
from accord.evals.teams.teams import (
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
