"""Every error of `accord.agents`, each an `AccordError` that says what was wrong and what to do."""

from __future__ import annotations

from collections.abc import Sequence

from accord.persistence import AccordError

INSTALL_LOCAL = "pip install 'accord[local]'"
INSTALL_OLLAMA = "pip install 'accord[ollama]'"
INSTALL_EMBEDDINGS = "pip install 'accord[embeddings]'"


class AgentSpecError(AccordError, ValueError):
    """An `Agent` or a team of agents was described wrongly; the message says which field."""


class EmptyRequest(AccordError, ValueError):
    """A request to route was empty or only whitespace: there is nothing to route on."""


class ModelError(AccordError):
    """Base class of the errors raised while choosing, starting or calling a model."""


class CallRefused(AccordError):
    """A model call refused before it was sent, by the caller's own policy (a session budget).

    Not a failure of the model or its endpoint: it is never retried, never sent to a fallback
    model and never counted against an endpoint's health. It ends the step and the run.
    """


class ModelSpecError(ModelError, ValueError):
    """A model id or its options are wrong; the message lists the forms that work."""


class UnknownModelId(ModelSpecError):
    """The model id has a prefix accord does not know."""


class ModelUnavailable(ModelError):
    """The model cannot be used here: missing package, missing key, offline mode, dead server."""


class LocalModelNotInstalled(ModelUnavailable, ImportError):
    """The embedded model's packages (`xllamacpp`, the weight parts) are not installed."""


class EmbeddingsNotInstalled(ModelUnavailable, ImportError):
    """The embedding fit's model package (`accord[embeddings]`) is not installed."""


class ModelWeightsCorrupt(ModelUnavailable):
    """The assembled weights file does not have the published sha256; it was not kept."""


class LocalServerFailed(ModelUnavailable):
    """The embedded llama.cpp server exited or did not become ready in time."""


class OfflineMode(ModelUnavailable):
    """`ACCORD_OFFLINE` is on, so no model server may be started or reached."""


class CircuitOpen(ModelUnavailable):
    """The endpoint's breaker is open, so the request was not sent to it.

    Attributes:
        endpoint: The endpoint's key.
        retry_in: Seconds until the breaker lets a probe through.
    """

    def __init__(self, endpoint: str, retry_in: float) -> None:
        super().__init__(
            f"{endpoint} is failing, so its circuit breaker is open and it was skipped; it is "
            f"probed again in {retry_in:.1f} s. Add a healthy fallback model or a backup agent "
            f"to keep answering meanwhile."
        )
        self.endpoint = endpoint
        self.retry_in = retry_in


class ModelTimeout(ModelUnavailable, TimeoutError):
    """A model call outlasted one of its time limits and was abandoned.

    It counts as one failure of the endpoint, and the chain goes on to its next model at once:
    a hung endpoint would cost the same wait again, so it is not retried.

    Attributes:
        endpoint: The endpoint's key.
        limit: Which limit ran out: `connect`, `first_byte` or `total`.
        seconds: The limit, in seconds.
    """

    def __init__(self, endpoint: str, limit: str, seconds: float) -> None:
        super().__init__(
            f"{endpoint} gave no answer within its {limit} limit of {seconds:g} s, so the call "
            f"was abandoned and the next model asked. If the model is just slow, raise the "
            f"limit in its id, e.g. '<provider>:<model>?{limit}={max(60, 2 * seconds):g}'."
        )
        self.endpoint = endpoint
        self.limit = limit
        self.seconds = seconds


class AllModelsFailed(ModelError):
    """Every model of an agent's chain failed or was skipped by its open breaker.

    Attributes:
        errors: `(endpoint, last error)` for each model, in chain order.
    """

    def __init__(self, errors: Sequence[tuple[str, BaseException]]) -> None:
        self.errors = list(errors)
        lines = "; ".join(f"{name}: {type(e).__name__}: {e}" for name, e in self.errors)
        super().__init__(
            f"all {len(self.errors)} model(s) of the chain failed ({lines}). Check those "
            f"endpoints, add a healthy fallback model, or give the agent a backup."
        )


class MalformedOutput(ModelError, ValueError):
    """The model's structured output did not match the schema, even after re-asking.

    Attributes:
        raw: The text of the model's last reply.
        schema_name: The name of the schema it should have matched.
        attempts: How many times the model was asked.
    """

    def __init__(self, message: str, *, raw: str, schema_name: str, attempts: int) -> None:
        super().__init__(message)
        self.raw = raw
        self.schema_name = schema_name
        self.attempts = attempts


class UnexpectedModelCall(ModelError, AssertionError):
    """A scripted test model was called off-script: past its end, or with unexpected input."""


class BadEventsFile(AccordError):
    """A file of step events could not be read; the message says which line and why."""


class FaultServerError(AccordError):
    """The fault server could not do what was asked (e.g. rebind its port after `down()`)."""
