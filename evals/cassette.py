"""Recorded model traffic: vcrpy cassettes that make a run reproducible without a model.

A cassette holds the real HTTP exchanges of a run against a real model (the embedded default or
any OpenAI-compatible endpoint). Replaying matches each request on method, path and body only:
the embedded server listens on a different free port every run, and the body already says
everything that determines the answer (prompt, schema, sampling settings).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr

from accord.evals.errors import MissingRecording

# Requests in replay go to this address, which nothing serves: a request with no recording
# fails loudly instead of reaching a model.
REPLAY_URL = "http://127.0.0.1:9/v1"
_SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "cookie")


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "openai-organization"):
            del headers[name]
    return response


def _caused_by_missing_recording(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, vcr.errors.CannotOverwriteExistingCassetteException):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _recorder(record: bool) -> vcr.VCR:
    return vcr.VCR(
        record_mode="all" if record else "none",
        match_on=("method", "path", "body"),
        filter_headers=_SECRET_HEADERS,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


@contextmanager
def cassette(path: str | Path, *, record: bool = False) -> Iterator[Any]:
    """Records or replays every model request made inside the block.

    Args:
        path: The cassette file (YAML).
        record: Record against the real model (overwriting the cassette) instead of replaying.

    In replay the embedded model is pointed at `REPLAY_URL` through `ACCORD_LOCAL_URL`, so no
    model server starts.

    Raises:
        MissingRecording: In replay, when the cassette file does not exist or a request has no
            recording; record it with `record=True`.
    """
    path = Path(path)
    if not record and not path.exists():
        raise MissingRecording(f"no cassette at {path}; record it first (record=True)")
    saved = os.environ.get("ACCORD_LOCAL_URL")
    if not record:
        os.environ["ACCORD_LOCAL_URL"] = REPLAY_URL
    try:
        with _recorder(record).use_cassette(str(path)) as tape:
            yield tape
    except Exception as exc:
        # Model clients wrap transport errors (and retry them), so look down the cause chain.
        if not _caused_by_missing_recording(exc):
            raise
        raise MissingRecording(
            f"{path} has no recording for a request this run made (prompts or settings changed?); "
            "re-record the cassette"
        ) from exc
    finally:
        if saved is None:
            os.environ.pop("ACCORD_LOCAL_URL", None)
        else:
            os.environ["ACCORD_LOCAL_URL"] = saved
