"""Ready-made teams from the seed's domain workflows, runnable on the embedded model."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from accord.agents import Agent, ModelRef
from accord.graphs import TeamState, handoff


def onboarding_team(models: tuple[ModelRef, ...] = ("local",)) -> list[Agent]:
    """Customer onboarding: intake -> identity verification -> account setup -> support."""
    return [
        Agent(
            name="intake",
            description="Greets new customers and learns their name and the account they want.",
            instructions=(
                "Welcome the customer by name and find out their full name and the kind of "
                'account they want. As soon as you know both, reply only "Welcome, <name>!" '
                "and hand off to verification."
            ),
            skills=("onboarding", "greeting", "account types"),
            models=models,
        ),
        Agent(
            name="verification",
            description="Verifies identity from a date of birth and a government ID number.",
            instructions=(
                "Ask for what is still missing of the customer's date of birth and ID or "
                "passport number. When both are known, hand off to setup."
            ),
            skills=("kyc", "identity", "verification"),
            models=models,
            requires=("full_name", "account_type"),
        ),
        Agent(
            name="setup",
            description="Opens the verified customer's account and applies their preferences.",
            instructions=(
                'When you take over, reply "Your account is open: would you like paper or '
                'online statements, and a debit card?" Once the customer has answered that, '
                "confirm their choices in one sentence and hand off to support."
            ),
            skills=("account setup", "cards", "statements"),
            models=models,
            requires=("date_of_birth", "id_number"),
        ),
        Agent(
            name="support",
            description="Answers the customer's questions once the account is open.",
            instructions=(
                "Answer the customer's questions about their new account briefly. A debit card "
                "arrives within 5 to 7 working days. With no question to answer, ask how you "
                "can help."
            ),
            skills=("support", "faq"),
            models=models,
            requires=("statement_and_card_choices",),
        ),
    ]


ONBOARDING_FACTS = (
    "full_name",
    "account_type",
    "date_of_birth",
    "id_number",
    "statement_and_card_choices",
)
"""What the onboarding team learns about a customer (`state["facts"]`)."""
ONBOARDING_ROUTES = {"intake": ["verification"], "verification": ["setup"], "setup": ["support"]}


def onboarding(
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    models: tuple[ModelRef, ...] = ("local",),
) -> CompiledStateGraph[TeamState, Any, TeamState, TeamState]:
    """The customer-onboarding handoff graph (what `accord demo` runs)."""
    return handoff(
        onboarding_team(models),
        checkpointer=checkpointer,
        routes={**ONBOARDING_ROUTES, "support": []},
        facts=ONBOARDING_FACTS,
        # A customer who gives everything at once reaches setup in one message (intake,
        # verification, setup); the `requires` gates, not a hop limit, keep a small model from
        # rushing a customer past a desk, and the third desk only replies.
        max_hops=3,
        name="onboarding",
    )
