"""The served graph as the Agent Server API's one assistant: get, search, graph, schemas.

The assistant's id is the one LangGraph's own server gives a graph's default assistant (a
UUID5 of the graph id), and the graph id is accepted wherever an assistant id is, as there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from langgraph.pregel import Pregel
from pydantic import BaseModel, ConfigDict, Field

from accord.app.errors import UnknownAgentId, server_extra
from accord.app.server.agent_api.wire import ERRORS, AgentRoute, Caller, answer, app_state
from accord.app.server.routes import Shared

with server_extra():
    from fastapi import APIRouter, Depends, Query
    from fastapi.responses import Response

NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
"""The namespace of LangGraph's server for the ids of graphs' default assistants."""


@dataclass(frozen=True)
class Assistant:
    """The graph a server runs, as the Agent Server API describes it."""

    graph_id: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def assistant_id(self) -> str:
        return str(uuid.uuid5(NAMESPACE_GRAPH, self.graph_id))

    def named(self, assistant_id: str) -> bool:
        """Whether `assistant_id` names it (its id or its graph id)."""
        return assistant_id in (self.assistant_id, self.graph_id)

    def check(self, assistant_id: str) -> None:
        """Raises `UnknownAgentId` unless `assistant_id` names it."""
        if not self.named(assistant_id):
            raise UnknownAgentId(
                f"assistant {assistant_id!r} not found; this server has {self.graph_id!r} "
                f"(id {self.assistant_id})"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id,
            "graph_id": self.graph_id,
            "config": {},
            "context": {},
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "metadata": {"created_by": "system"},
            "version": 1,
            "name": self.graph_id,
            "description": None,
        }


Served = Annotated[Assistant, Depends(app_state("assistant"))]

assistants_api = APIRouter(route_class=AgentRoute, tags=["Agent Server API"], responses=ERRORS)


class AssistantSearch(BaseModel):
    """`POST /assistants/search`."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


@assistants_api.post("/assistants/search", summary="Search assistants")
async def search(query: AssistantSearch, me: Caller, served: Served) -> Response:
    found = served.to_dict()
    matches = (
        query.graph_id in (None, served.graph_id)
        and query.name in (None, served.graph_id)
        and all(found["metadata"].get(k) == v for k, v in (query.metadata or {}).items())
    )
    return answer([found][query.offset : query.offset + query.limit] if matches else [])


@assistants_api.get("/assistants/{assistant_id}", summary="Get an assistant")
async def get(assistant_id: str, me: Caller, served: Served) -> Response:
    served.check(assistant_id)
    return answer(served.to_dict())


@assistants_api.get("/assistants/{assistant_id}/graph", summary="The assistant's graph")
async def graph(
    assistant_id: str,
    me: Caller,
    served: Served,
    shared: Shared,
    xray: Annotated[int | bool, Query()] = False,
) -> Response:
    """The drawable graph (nodes and edges), as `RemoteGraph.get_graph` reads it."""
    served.check(assistant_id)
    return answer(shared.sessions.graph.get_graph(xray=xray).to_json())


@assistants_api.get("/assistants/{assistant_id}/schemas", summary="The assistant's schemas")
async def schemas(assistant_id: str, me: Caller, served: Served, shared: Shared) -> Response:
    """The JSON schemas of the graph's input, output, state, config and context."""
    served.check(assistant_id)
    return answer({"graph_id": served.graph_id, **graph_schemas(shared.sessions.graph)})


def graph_schemas(graph: Pregel[Any, Any, Any, Any]) -> dict[str, Any]:
    """The graph's schemas; one pydantic cannot build is None. The state is what the graph
    outputs; the config schema is the context's (LangGraph 1 deprecates config schemas)."""
    readers = {
        "input_schema": graph.get_input_jsonschema,
        "output_schema": graph.get_output_jsonschema,
        "state_schema": graph.get_output_jsonschema,
        "context_schema": graph.get_context_jsonschema,
    }
    found: dict[str, Any] = {"config_schema": None}
    for name, read in readers.items():
        try:
            found[name] = read()
        except Exception:  # a schema pydantic cannot build: the others still serve
            found[name] = None
    return found


@assistants_api.get("/info", summary="Server information")
async def info() -> Response:
    """What LangGraph's clients ask a server before using optional features."""
    return answer({"version": "accord", "flags": {"assistants": True, "crons": False}})
