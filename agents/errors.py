"""The typed errors of accord's model layer: each says what was wrong and what to do."""

from __future__ import annotations

from accord.persistence import AccordError

INSTALL_LOCAL = "pip install 'accord[local]'"
INSTALL_OLLAMA = "pip install 'accord[ollama]'"


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


class ModelWeightsCorrupt(ModelUnavailable):
    """The assembled weights file does not have the published sha256; it was not kept."""


class LocalServerFailed(ModelUnavailable):
    """The embedded llama.cpp server exited or did not become ready in time."""


class OfflineMode(ModelUnavailable):
    """`ACCORD_OFFLINE` is on, so no model server may be started or reached."""


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
