"""Who may do what to a session: users, roles and each session's security scope."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["read", "send", "resume", "restore"]
OPERATOR = "accord:operator"
"""The role of those who run the service (the `accord sessions` command line): every action on
every session, each one audited under their name. Grant it to no end user."""
ACTIONS: tuple[Action, ...] = ("read", "send", "resume", "restore")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(kind: str, name: object) -> None:
    """Refuses a name no database stores as given (issue 14: a role "\\ud800" in one scope
    broke the listings of everyone it named)."""
    if not isinstance(name, str) or not name.strip() or _UNPRINTABLE.search(name):
        raise ValueError(
            f"a {kind} must be printable text (no control characters or lone surrogates),"
            f" got {name!r}"
        )


@dataclass(frozen=True, slots=True)
class User:
    """An identity that acts on sessions: its id and the roles it holds.

    Attributes:
        id: Stable user id (what authentication established; never taken from the message).
        roles: Role names a scope can grant access to, e.g. `{"support", "auditor"}`.
    """

    id: str
    roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"a user id must be a non-empty string, got {self.id!r}")
        object.__setattr__(self, "roles", frozenset(self.roles))
        for name in (self.id, *self.roles):
            _printable("user id or role", name)

    @classmethod
    def of(cls, user: User | str) -> User:
        """A `User` from a user or a bare id (no roles)."""
        return user if isinstance(user, User) else cls(user)


@dataclass(frozen=True, slots=True)
class Access:
    """The users and roles granted one action (besides the owner, who may do everything)."""

    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", frozenset(self.users))
        object.__setattr__(self, "roles", frozenset(self.roles))
        for name in (*self.users, *self.roles):
            _printable("user or role in a scope", name)

    def grants(self, user: User) -> bool:
        """Whether `user` is named, or holds a named role."""
        return user.id in self.users or not self.roles.isdisjoint(user.roles)


@dataclass(frozen=True, slots=True)
class Scope:
    """A session's security scope: who besides its owner may read, send to, resume or restore it.

    Listing shows a session to those who may read it. The default is private.

    Example:
        ```python
        Scope(read=Access(roles={"auditor"}), send=Access(users={"bob"}))
        ```
    """

    read: Access = field(default_factory=Access)
    send: Access = field(default_factory=Access)
    resume: Access = field(default_factory=Access)
    restore: Access = field(default_factory=Access)

    @classmethod
    def private(cls) -> Scope:
        """Only the owner."""
        return cls()

    @classmethod
    def shared(cls, *, users: Iterable[str] = (), roles: Iterable[str] = ()) -> Scope:
        """The owner, and these users and roles for every action."""
        access = Access(frozenset(users), frozenset(roles))
        return cls(access, access, access, access)

    def allows(self, owner: str, user: User, action: Action) -> bool:
        """Whether `user` may do `action` to a session owned by `owner`."""
        return user.id == owner or OPERATOR in user.roles or getattr(self, action).grants(user)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document stored on the session record."""
        return {
            action: {"users": sorted(a.users), "roles": sorted(a.roles)}
            for action in ACTIONS
            if (a := getattr(self, action)).users or a.roles
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Scope:
        """The scope stored by `to_dict`."""
        unknown = set(document) - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown scope actions {sorted(unknown)}; use {list(ACTIONS)}")
        # A name stored before names were checked can match no (checked) user: skip it, so
        # one bad record never breaks the listings it appears in.
        return cls(
            **{
                action: Access(_usable(grant.get("users", ())), _usable(grant.get("roles", ())))
                for action, grant in document.items()
            }
        )


def _usable(names: Iterable[Any]) -> frozenset[str]:
    return frozenset(
        n for n in names if isinstance(n, str) and n.strip() and not _UNPRINTABLE.search(n)
    )
