"""The generic agent node: any task, lazy model chains, retries, failure capture, interrupts."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import RetryPolicy, interrupt
from pydantic import BaseModel

from accord.agents import Agent, ScriptedModel
from accord.graphs import AgentNode, Task, TeamState, handoff
from accord.graphs.node import KEPT_CHAINS, retries_on
from accord.graphs.patterns.routes import route_schema


class Echo(BaseModel):
    text: str


class EchoTask(Task):
    """Asks for an `Echo` and stores it in `vars`; records failures there too."""

    def __init__(self, record_failures: bool = False, ask_human: bool = False) -> None:
        self.record_failures = record_failures
        self.ask_human = ask_human

    def prepare(self, agent: Agent, state: TeamState) -> tuple[list[AnyMessage], type[BaseModel]]:
        if self.ask_human:
            interrupt("need a human")
        return [HumanMessage("say something")], Echo

    def apply(self, agent: Agent, answer: BaseModel, state: TeamState) -> dict[str, Any]:
        return {"vars": {"said": getattr(answer, "text")}}  # noqa: B009

    def failed(self, agent: Agent, state: TeamState, error: Exception, attempts: int) -> Any:
        if not self.record_failures:
            return None
        return {"vars": {"failed": f"{type(error).__name__} x{attempts}"}}


def _graph(node: AgentNode) -> Any:
    builder = StateGraph(TeamState)
    builder.add_node("echo", node)
    builder.add_edge(START, "echo")
    return builder.compile(checkpointer=InMemorySaver())


def _agent(*script: Any) -> Agent:
    return Agent(name="echo", description="echoes", models=(ScriptedModel(list(script)),))


CONFIG: Any = {"configurable": {"thread_id": "t"}}
FAST = RetryPolicy(max_attempts=2, initial_interval=0, jitter=False)


def test_building_a_node_resolves_no_model() -> None:
    node = AgentNode(Agent(name="x", description="uses the embedded model"), EchoTask())
    assert node._chains == {}


async def test_any_task_runs_through_the_one_node() -> None:
    state = await _graph(AgentNode(_agent({"text": "hi"}), EchoTask())).ainvoke({}, CONFIG)
    assert state["vars"] == {"said": "hi"}


def test_retries_then_records_a_failure() -> None:
    # TimeoutError is an OSError, which LangGraph's default rule does not retry: name it.
    retry = FAST._replace(retry_on=TimeoutError)
    node = AgentNode(
        _agent(TimeoutError("slow"), TimeoutError("slow")), EchoTask(True), retry=retry
    )
    state = _graph(node).invoke({}, CONFIG)
    assert state["vars"] == {"failed": "TimeoutError x2"}


async def test_without_a_failure_hook_the_error_is_raised() -> None:
    graph = _graph(AgentNode(_agent(ConnectionError("down")), EchoTask()))
    with pytest.raises(ConnectionError, match="down"):
        await graph.ainvoke({}, CONFIG)


async def test_an_interrupt_is_never_recorded_as_a_failure() -> None:
    graph = _graph(AgentNode(_agent(), EchoTask(record_failures=True, ask_human=True)))
    await graph.ainvoke({}, CONFIG)
    snapshot = graph.get_state(CONFIG)
    assert snapshot.interrupts[0].value == "need a human"
    assert snapshot.next == ("echo",)
    assert not snapshot.values.get("vars")


@pytest.mark.parametrize(
    ("rule", "error", "expected"),
    [
        (ConnectionError, ConnectionError(), True),
        ((KeyError, TimeoutError), TimeoutError(), True),
        ((KeyError,), ValueError(), False),
        (lambda e: "retry" in str(e), RuntimeError("please retry"), True),
    ],
)
def test_retry_rules_follow_langgraph(rule: Any, error: Exception, expected: bool) -> None:
    assert retries_on(RetryPolicy(retry_on=rule), error) is expected


async def test_an_agent_with_tools_gathers_facts_before_it_answers() -> None:
    @tool
    def balance(account: str) -> str:
        """Looks up an account's balance."""
        return f"{account}: 120.50 EUR"

    call = AIMessage("", tool_calls=[{"name": "balance", "args": {"account": "A1"}, "id": "c1"}])
    stray = AIMessage("", tool_calls=[{"name": "refund", "args": {}, "id": "c2"}])
    model = ScriptedModel([call, stray, AIMessage("done"), {"reply": "You have 120.50 EUR."}])
    teller = Agent(name="teller", description="tells", models=(model,), tools=(balance,))
    graph = handoff([teller], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("my balance?")]}, CONFIG)

    assert state["messages"][-1].text == "You have 120.50 EUR."
    decision = model.calls[-1].messages
    results = [m for m in decision if isinstance(m, ToolMessage)]
    assert [r.text for r in results] == ["A1: 120.50 EUR", results[1].text]
    assert "There is no tool 'refund'" in results[1].text
    assert model.calls[0].tools == ("balance",)
    model.assert_exhausted()


def test_an_agent_keeps_a_bounded_number_of_answer_chains() -> None:
    """A router's shortlist makes an answer schema per shortlist: the node's chains (each
    holding its models) must not grow with every new one."""
    node = AgentNode(_agent(), EchoTask())
    names = [f"a{k}" for k in range(12)]
    first = route_schema((names[0], names[1], names[2]), bounded=True)
    node._chain(first)
    for k in range(KEPT_CHAINS + 10):
        node._chain(route_schema((names[k % 12], names[(k + 1) % 12], f"b{k}"), bounded=True))
        node._chain(first)  # used again: kept
    assert len(node._chains) == KEPT_CHAINS
    assert first in node._chains
