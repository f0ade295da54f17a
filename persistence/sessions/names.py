"""Names stored on session records (ids, owners, agents, the users and roles of a scope).

Each must be printable text: no NUL or other control characters (PostgreSQL refuses NUL,
and they hide in logs), no lone surrogates (which no database encoding can store: issue 14,
a scope naming "\\ud800" was accepted, then broke every later listing that showed it), and
within the column's length. A bad name is refused before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from accord.persistence.errors import InvalidName
from accord.persistence.schema import NAME_LENGTH, THREAD_ID_LENGTH

_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def check(kind: str, value: object, length: int = NAME_LENGTH) -> str:
    """`value` if it is a usable name; else `InvalidName` saying why."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidName(f"a {kind} must be non-empty text, got {value!r}")
    if len(value) > length:
        raise InvalidName(f"a {kind} may have at most {length} characters, got {len(value)}")
    bad = _BAD.search(value)
    if bad is not None:
        raise InvalidName(
            f"a {kind} may not contain control characters or lone surrogates, got {value!r}"
            f" (character U+{ord(bad.group()):04X} at {bad.start()}); use printable text"
        )
    return value


def check_session_id(value: object) -> str:
    """A session id (a thread id) usable as a key."""
    return check("session id", value, THREAD_ID_LENGTH)


def check_scope(scope: Mapping[str, Any]) -> None:
    """Every user and role a scope document names (see `Scope.to_dict`)."""
    for action, grant in scope.items():
        check("scope action", action)
        if not isinstance(grant, Mapping):
            raise InvalidName(f"scope action {action!r} must map to users and roles")
        for kind in ("users", "roles"):
            names: Iterable[object] = grant.get(kind, ())
            for name in names:
                check(kind[:-1], name)
