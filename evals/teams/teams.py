"""Example teams for the consultation, delegation, consensus and routed patterns.

Instructions stay short and concrete: the embedded 0.5B model does best with narrow choices.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from accord.agents import Agent, ModelRef
from accord.graphs import (
    ConsensusState,
    ConsultationState,
    DelegationState,
    RoutedState,
    consensus,
    consultation,
    delegation,
    routed,
)

Saver = BaseCheckpointSaver[Any] | None
Models = tuple[ModelRef, ...]


def _agent(name: str, description: str, instructions: str, models: Models) -> Agent:
    """One example agent; skills are the description's words so routing has something to fit."""
    return Agent(
        name=name,
        description=description,
        instructions=instructions,
        skills=tuple(description.lower().rstrip(".").split(", ")),
        models=models,
    )


def tech_support(
    *, checkpointer: Saver = None, models: Models = ("local",)
) -> CompiledStateGraph[ConsultationState, Any, ConsultationState, ConsultationState]:
    """Technical support escalation: general support consults diagnostics and network experts."""
    primary = _agent(
        "support",
        "First-line technical support.",
        "Help the user fix their problem. Consult diagnostics for device or software faults "
        "and network for connection problems. Answer in at most three short steps.",
        models,
    )
    specialists = [
        _agent(
            "diagnostics",
            "Device and software fault diagnosis.",
            "Name the most likely cause of the fault and one check to confirm it.",
            models,
        ),
        _agent(
            "network",
            "Network, Wi-Fi and connection problems.",
            "Name the most likely network cause and one fix to try first.",
            models,
        ),
    ]
    return consultation(primary, specialists, checkpointer=checkpointer, name="tech_support")


def project_coordination(
    *, checkpointer: Saver = None, models: Models = ("local",)
) -> CompiledStateGraph[DelegationState, Any, DelegationState, DelegationState]:
    """Project coordination: a coordinator splits the work among resources, timeline and risk."""
    coordinator = _agent(
        "coordinator",
        "Project coordination.",
        "Give each of resources, timeline and risk one short subtask about the project. "
        "Then combine their results into a plan of at most five lines.",
        models,
    )
    workers = [
        _agent(
            "resources",
            "Staffing, budget, equipment.",
            "List the people and budget needed in at most three lines.",
            models,
        ),
        _agent(
            "timeline",
            "Schedule, milestones, deadlines.",
            "Give three milestones with weeks in at most three lines.",
            models,
        ),
        _agent(
            "risk",
            "Project risks, mitigation.",
            "Name the two biggest risks and one mitigation each.",
            models,
        ),
    ]
    return delegation(
        coordinator, workers, max_subtasks=3, checkpointer=checkpointer, name="project"
    )


CREDIT_OPTIONS = ("approve", "reject", "refer")


def credit_risk(
    *, checkpointer: Saver = None, models: Models = ("local",)
) -> CompiledStateGraph[ConsensusState, Any, ConsensusState, ConsensusState]:
    """Credit risk: credit history, market conditions and compliance vote approve/reject/refer."""
    # "refer when unsure" alone, and then "refer when it is mixed or unclear": the 1.5B panel
    # still rejected a mixed record in a volatile sector, taking "mixed" for a clear problem.
    vote = (
        "Vote approve when the case is clearly good. Vote reject only for a clear problem: "
        "missed payments, large debts or refused documents. A mixed record or an uncertain "
        "sector is not a clear problem: vote refer, so a person looks at it."
    )
    panel = [
        _agent(
            "credit_history",
            "Credit history, repayment record.",
            f"Judge the applicant's repayment record and debts. {vote}",
            models,
        ),
        _agent(
            "market",
            "Market conditions, sector outlook.",
            f"Judge the economic outlook for the applicant's sector. {vote}",
            models,
        ),
        _agent(
            "compliance",
            "Regulation, lending policy, KYC.",
            f"Judge whether the loan meets lending rules. {vote}",
            models,
        ),
    ]
    return consensus(panel, options=CREDIT_OPTIONS, checkpointer=checkpointer, name="credit")


def _routed(
    name: str, specs: list[tuple[str, str, str]], checkpointer: Saver, models: Models
) -> CompiledStateGraph[RoutedState, Any, RoutedState, RoutedState]:
    """A router (a model choosing by description) in front of three specialists."""
    agents = [_agent(n, d, i, models) for n, d, i in specs]
    return routed(agents, checkpointer=checkpointer, name=name)


def finance_monitoring(
    *, checkpointer: Saver = None, models: Models = ("local",)
) -> CompiledStateGraph[RoutedState, Any, RoutedState, RoutedState]:
    """Finance risk monitoring: market risk, fraud and liquidity specialists behind a router."""
    return _routed(
        "finance",
        [
            (
                "market_risk",
                "Market risk, price moves, exposure.",
                "Assess the market exposure in at most three lines.",
            ),
            (
                "fraud",
                "Fraud, suspicious transactions.",
                "Say whether the activity looks suspicious and what to check next.",
            ),
            (
                "liquidity",
                "Liquidity, cash flow, funding.",
                "Assess the cash position and one action in at most three lines.",
            ),
        ],
        checkpointer,
        models,
    )


def care_coordination(
    *, checkpointer: Saver = None, models: Models = ("local",)
) -> CompiledStateGraph[RoutedState, Any, RoutedState, RoutedState]:
    """Healthcare care coordination: scheduling, medication and billing behind a router."""
    return _routed(
        "care",
        [
            (
                "scheduling",
                "Appointments, referrals, scheduling.",
                "Propose the next appointment step in two sentences.",
            ),
            (
                "medication",
                "Medication, prescriptions, refills.",
                "Answer the medication question briefly; advise asking a doctor when unsure.",
            ),
            (
                "billing",
                "Insurance, billing, payments.",
                "Explain the billing or insurance step in two sentences.",
            ),
        ],
        checkpointer,
        models,
    )


def ecommerce(
    *, checkpointer: Saver = None, models: Models = ("local",)
) -> CompiledStateGraph[RoutedState, Any, RoutedState, RoutedState]:
    """E-commerce: orders, returns and product questions behind a router."""
    return _routed(
        "ecommerce",
        [
            (
                "orders",
                "Order status, shipping, delivery.",
                "Answer about the order or delivery in two sentences.",
            ),
            (
                "returns",
                "Returns, refunds, exchanges.",
                "Explain the return or refund step in two sentences.",
            ),
            (
                "products",
                "Product questions, recommendations.",
                "Answer the product question in two sentences.",
            ),
        ],
        checkpointer,
        models,
    )
