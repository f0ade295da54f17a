"""The errors of accord.graphs: each derives from `AccordError`, so one `except` catches all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.agents import CallRefused
from accord.persistence import AccordError

if TYPE_CHECKING:
    from accord.graphs.sessions.budget import Limits, Usage


class NotAuthorized(AccordError, PermissionError):
    """The user may not do this to the session; the attempt is in the session's audit trail.

    Attributes:
        session_id: The session.
        user: Who tried.
        action: What they tried: read, send, resume or restore.
    """

    def __init__(self, session_id: str, user: str, action: str) -> None:
        """Say who may not do what; the session's owner can widen its scope."""
        super().__init__(
            f"user {user!r} may not {action} session {session_id!r}; ask its owner to add "
            f"you (or one of your roles) to its scope's {action!r} access"
        )
        self.session_id = session_id
        self.user = user
        self.action = action


class BudgetExceeded(CallRefused):
    """The session reached one of its limits; the run stopped before spending past it.

    What ran before the limit is kept (the last checkpoint), and other sessions are unaffected.
    Raise the session's limits, or open a new session, to go on.

    Attributes:
        session_id: The session.
        limit: Which limit: tokens, model_calls, steps or wall_time.
        used: What the session had used when it stopped.
        limits: The session's limits.
    """

    def __init__(self, session_id: str, limit: str, used: Usage, limits: Limits) -> None:
        """Say which limit stopped the session and what it had used."""
        allowed = getattr(limits, limit)
        spent = used.tokens if limit == "tokens" else getattr(used, limit)
        super().__init__(
            f"session {session_id!r} reached its {limit} limit ({spent} used of {allowed}); "
            "raise the session's limits or start a new session"
        )
        self.session_id = session_id
        self.limit = limit
        self.used = used
        self.limits = limits


class SessionClosed(AccordError):
    """The session was ended; open a new one to go on talking."""


class InvalidFeedback(AccordError, ValueError):
    """A rating was refused and nothing was stored: a score outside 0 to 1, a comment too
    long, or (`NotAnAnswer`) a message that is not one of the session's answers.
    """


class NotAnAnswer(InvalidFeedback, LookupError):
    """The rated message is not one of the session's answers (an AI message with text): no
    such id, or a user's own message. Rate an id the session's history lists."""


class SessionPaused(AccordError):
    """The session waits for a person's answer to a question its graph asked (`interrupt`);
    answer it with `session.aresume_with(answer)` before sending another message."""


class NotPaused(AccordError):
    """An answer was given to a session that asked no question (it is not paused), or it
    does not fit the questions pending; nothing was changed."""


class InvalidPrice(AccordError, ValueError):
    """A price table was refused (a negative or non-numeric price, an unknown field); nothing
    of it is used."""


class UnpricedModel(CallRefused):
    """A session with a cost limit was about to call a model its price table does not name;
    the call was not sent. Add the model to `Prices` (or `ACCORD_PRICES`)."""


class ScaleNotInstalled(AccordError, ImportError):
    """Workers and `Sessions(..., broker=...)` need the `scale` extra (Celery, redis-py).

    Install it with: pip install 'accord[scale]'
    """


class ServiceUnavailable(AccordError, ConnectionError):
    """A service the fleet needs could not be reached; the message names which and how to
    start it. Nothing was enqueued (or, for a worker's database, nothing of the turn was left
    half-done: its message may be sent again).

    Attributes:
        service: `"broker"` (RabbitMQ), `"redis"`, or `"database"` (a worker's).
    """

    def __init__(self, service: str, url: str, cause: BaseException, start: str) -> None:
        """Say which service is down, where it was looked for and what starts it."""
        super().__init__(
            f"the {service} at {url} is unreachable ({type(cause).__name__}: {cause}); "
            f"start it ({start}) or pass its URL"
        )
        self.service = service


class TurnFailed(AccordError):
    """A turn run on a worker failed there; `type` names the worker's error.

    Attributes:
        type: The class name of the error the worker raised (e.g. `"BudgetExceeded"`).
        dead_lettered: The message failed on every attempt and went to the dead-letter queue.
    """

    def __init__(self, type_: str, message: str, *, dead_lettered: bool = False) -> None:
        """Carry the worker's error: its class name and message."""
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.dead_lettered = dead_lettered


class InvalidBroker(AccordError, ValueError):
    """A `Broker` setting is refused (not a RabbitMQ URL, fewer than one attempt)."""
