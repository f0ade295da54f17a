"""The typed errors of accord.evals: each says what was wrong and what to do."""

from __future__ import annotations

from accord.persistence import AccordError

INSTALL_PLOTS = "pip install 'accord[plots]'"


class DatasetError(AccordError):
    """A dataset file is missing or malformed; the message names the file and where."""


class MissingRecording(AccordError):
    """A replayed run made a request that its cassette does not hold."""


class ModelNotRecorded(MissingRecording):
    """A replay names a model that the dataset's cassettes hold no request of.

    Replay without `--model` (the model it was recorded with), or record the model.
    """


class ResultsError(AccordError):
    """A results file could not be read; write it with `accord eval ... --json FILE`."""


class PlotsNotInstalled(AccordError, ImportError):
    """An HTML report's plots need matplotlib, which comes with the `plots` extra."""


class NoRatings(AccordError):
    """A session database holds no rated answer to export as evaluation cases."""
