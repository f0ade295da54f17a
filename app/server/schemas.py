"""The JSON bodies of the HTTP API (they make its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from accord.graphs import Access, Limits, Scope, User
from accord.persistence import AuditEvent, SessionRecord

MAX_MESSAGE_CHARS = 8000
"""The longest message a user may send, in characters (longer ones get 422)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
"""Printable text: no control characters, not blank (lone surrogates are refused as well)."""
Name = Annotated[str, Field(min_length=1, max_length=191, pattern=PRINTABLE)]
"""A user or role name, as session records store them."""


class AccessIn(_Strict):
    """Users and roles granted one action on a session."""

    users: list[Name] = Field(default_factory=list, max_length=1000)
    roles: list[Name] = Field(default_factory=list, max_length=1000)

    def to_access(self) -> Access:
        return Access(frozenset(self.users), frozenset(self.roles))


class ScopeIn(_Strict):
    """Who besides the owner may read, send to, resume or restore the session."""

    read: AccessIn = Field(default_factory=AccessIn)
    send: AccessIn = Field(default_factory=AccessIn)
    resume: AccessIn = Field(default_factory=AccessIn)
    restore: AccessIn = Field(default_factory=AccessIn)

    def to_scope(self) -> Scope:
        return Scope(
            self.read.to_access(),
            self.send.to_access(),
            self.resume.to_access(),
            self.restore.to_access(),
        )


class LimitsIn(_Strict):
    """The session's budget; a missing entry is unlimited."""

    tokens: int | None = Field(default=None, gt=0)
    model_calls: int | None = Field(default=None, gt=0)
    steps: int | None = Field(default=None, gt=0)
    wall_time: float | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0)
    cost: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="In the server's price currency."
    )

    def to_limits(self) -> Limits:
        return Limits(**self.model_dump())


class NewSession(_Strict):
    """What to open a session with (everything optional)."""

    scope: ScopeIn | None = None
    limits: LimitsIn | None = None


SAID = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
"""A character that is neither a control nor white space, spelled out: a schema's `\\S` is
JavaScript's, under which U+001C-U+001F are not space, while Python's `str.strip` (the
server's check) strips them. A text holding such a character is non-blank to both."""


class MessageIn(_Strict):
    """A message from the user."""

    # Documented as non-blank; checked by `_said_something`, whose message says what to do.
    text: str = Field(
        max_length=MAX_MESSAGE_CHARS, json_schema_extra={"minLength": 1, "pattern": SAID}
    )
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=PRINTABLE,
        description="An id you choose: sending it again never adds the message twice.",
    )

    @field_validator("text")
    @classmethod
    def _said_something(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the message is empty: say something to the team")
        return text


class RestoreIn(_Strict):
    """The moment to go back to: a time, or a checkpoint id (exactly one)."""

    # The schema says "one of the two, not null", as the validator below does.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["at"]}, {"required": ["checkpoint_id"]}]},
    )

    at: Annotated[datetime | None, WithJsonSchema({"type": "string", "format": "date-time"})] = (
        Field(default=None, description="The state as it was at this time.")
    )
    checkpoint_id: Annotated[
        str | None, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200})
    ] = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one(self) -> RestoreIn:
        if (self.at is None) == (self.checkpoint_id is None):
            raise ValueError("give exactly one of at and checkpoint_id")
        return self


class RestoreOut(BaseModel):
    """The restored state's new checkpoint (the session's head from now on)."""

    checkpoint_id: str


class SessionOut(BaseModel):
    """A session as its readers see it."""

    id: str
    owner: str
    agent: str | None
    status: str
    scope: dict[str, Any]
    limits: dict[str, Any]
    usage: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: SessionRecord) -> SessionOut:
        return cls(
            id=record.session_id,
            owner=record.owner,
            agent=record.agent,
            status=record.status,
            scope=dict(record.scope),
            limits=dict(record.limits),
            usage=dict(record.usage),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class MessageOut(BaseModel):
    """One message of the conversation."""

    role: str = Field(description="human, ai, tool or system")
    name: str | None = Field(description="the agent that wrote it (ai messages)")
    text: str
    id: str | None

    @classmethod
    def of(cls, message: AnyMessage) -> MessageOut:
        return cls(role=message.type, name=message.name, text=message.text, id=message.id)


class AuditOut(BaseModel):
    """One entry of a session's audit trail."""

    id: int | None
    kind: str
    actor: str | None
    agent: str | None
    details: dict[str, Any]
    at: datetime

    @classmethod
    def of(cls, event: AuditEvent) -> AuditOut:
        return cls(
            id=event.id,
            kind=event.kind,
            actor=event.actor,
            agent=event.agent,
            details=dict(event.details),
            at=event.at,
        )


class UserOut(BaseModel):
    """The authenticated user."""

    id: str
    roles: list[str]

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, roles=sorted(user.roles))


class ErrorDetail(BaseModel):
    """What went wrong: a stable `type` to branch on and a `message` for people."""

    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error response has this body."""

    error: ErrorDetail


class Health(BaseModel):
    """The server is up."""

    status: str
