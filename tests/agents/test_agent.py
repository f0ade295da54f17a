"""The Agent spec and team checks: bad descriptions fail at construction with a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from accord.agents import Agent, AgentSpecError, ScriptedModel, check_team


def test_defaults_and_normalised_skills() -> None:
    agent = Agent(name="intake", description="Greets users.", skills=(" KYC ", "", "Billing"))
    assert agent.models == ("local",)
    assert agent.skills == ("kyc", "billing")
    assert agent.capacity == 8
    assert agent.backup is None


def test_a_chat_model_instance_can_stand_in_the_chain() -> None:
    model = ScriptedModel(["hi"])
    agent = Agent(name="a", description="d", models=(model, "local"))
    assert agent.models[0] is model


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "1st", "description": "d"}, "name: .*starting with a letter"),
        ({"name": "__end__", "description": "d"}, "name: "),
        ({"name": "has space", "description": "d"}, "name: "),
        ({"name": "a", "description": ""}, "'a': .*give a description, skills or examples"),
        ({"name": "a", "description": " ", "skills": [" "]}, "give a description, skills or"),
        ({"name": "a", "description": "d", "models": ()}, "give at least one model id"),
        ({"name": "a", "description": "d", "capacity": 0}, "capacity: "),
        ({"name": "a", "description": "d", "colour": "red"}, "colour: Extra inputs"),
    ],
)
def test_invalid_fields_name_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        Agent(**fields)


def test_agents_are_immutable() -> None:
    agent = Agent(name="a", description="d")
    with pytest.raises(ValueError, match="frozen"):
        agent.name = "b"


def test_check_team_indexes_by_name() -> None:
    a, b = Agent(name="a", description="d", backup="b"), Agent(name="b", description="d")
    assert check_team([a, b]) == {"a": a, "b": b}


@pytest.mark.parametrize(
    ("team", "message"),
    [
        ([], "at least one Agent"),
        ([Agent(name="a", description="d")] * 2, "two agents are named 'a'"),
        ([Agent(name="a", description="d", backup="a")], "cannot be its own backup"),
        ([Agent(name="a", description="d", backup="z")], "backup 'z', which is not in the team"),
        (["a"], "expected Agent, got str"),
    ],
)
def test_check_team_refuses_bad_teams(team: list[Any], message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        check_team(team)
