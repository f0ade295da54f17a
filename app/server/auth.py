"""Bearer tokens mapped to user identities: loading the map, and checking a request's token.

The token map is JSON: an object from token to user, where a user is its id or an object with
its id and roles:

```json
{
  "s3cret-alice": "alice",
  "s3cret-bob": {"user": "bob", "roles": ["support", "auditor"]}
}
```

`accord serve --tokens tokens.json` reads it from a file; the environment variable
`ACCORD_TOKENS` holds the same JSON inline, or the path of such a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.app.errors import TokenFileError

if TYPE_CHECKING:  # imported where used: `import accord.app` (and `accord --help`) stays light
    from accord.graphs import User

ENV = "ACCORD_TOKENS"


@dataclass(frozen=True)
class Tokens:
    """Which user each bearer token stands for.

    Tokens are kept as SHA-256 digests and looked up by digest, so the lookup's timing says
    nothing about how much of a guessed token was right.

    Args:
        users: Token to user.
    """

    users: Mapping[str, User] = field(repr=False)
    _by_digest: dict[str, User] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digests = {_digest(token): user for token, user in self.users.items()}
        object.__setattr__(self, "_by_digest", digests)

    def user(self, token: str) -> User | None:
        """The user `token` stands for, or None for an unknown token."""
        return self._by_digest.get(_digest(token))

    def __len__(self) -> int:
        return len(self.users)

    @classmethod
    def parse(cls, document: Any, *, source: str = "token map") -> Tokens:
        """Tokens from the JSON document described in this module's docstring.

        Raises:
            TokenFileError: The document is not such a map.
        """
        if not isinstance(document, dict) or not document:
            raise TokenFileError(
                f'{source}: expected a non-empty JSON object like {{"<token>": "alice"}}'
            )
        users: dict[str, User] = {}
        for token, entry in document.items():
            if not token.strip():
                raise TokenFileError(f"{source}: a token must not be empty")
            users[token] = _user(entry, source)
        return cls(users)

    @classmethod
    def load(cls, path: Path) -> Tokens:
        """Tokens from a JSON file.

        Raises:
            TokenFileError: The file is missing or not a valid token map.
        """
        try:
            text = path.read_text()
        except OSError as error:
            raise TokenFileError(f"cannot read the token file {path}: {error.strerror}") from None
        return cls.parse(_json(text, str(path)), source=str(path))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Tokens | None:
        """Tokens from `ACCORD_TOKENS` (inline JSON or a file path), or None if it is unset."""
        value = environ.get(ENV, "").strip()
        if not value:
            return None
        if value.startswith("{"):
            return cls.parse(_json(value, ENV), source=ENV)
        return cls.load(Path(value))

    @classmethod
    def single(cls, user: str = "local") -> tuple[Tokens, str]:
        """A map with one fresh random token for `user`, and that token (for a local server)."""
        from accord.graphs import User

        token = secrets.token_urlsafe(24)
        return cls({token: User(user)}), token


def _user(entry: Any, source: str) -> User:
    if isinstance(entry, str):
        return _checked(entry, (), source)
    if isinstance(entry, dict) and isinstance(entry.get("user"), str):
        roles = entry.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenFileError(f"{source}: roles of {entry['user']!r} must be a list of names")
        return _checked(entry["user"], roles, source)
    raise TokenFileError(
        f'{source}: a user is "alice" or {{"user": "alice", "roles": ["support"]}}, got {entry!r}'
    )


def _checked(user: str, roles: Any, source: str) -> User:
    from accord.graphs import User

    try:
        return User(user, frozenset(roles))
    except ValueError as error:
        raise TokenFileError(f"{source}: {error}") from None


def _json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TokenFileError(f"{source} is not valid JSON: {error}") from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
