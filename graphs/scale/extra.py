"""The `scale` extra's packages (Celery, redis-py), imported when first needed.

A missing package raises `ScaleNotInstalled`, naming the `pip install` that brings it, so a
plain install of accord works without them until a fleet is asked for.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

from accord.graphs.errors import ScaleNotInstalled

INSTALL = "pip install 'accord[scale]'"


def need(module: str) -> ModuleType:
    """The module `module` of the extra.

    Raises:
        ScaleNotInstalled: Its package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ScaleNotInstalled(
            f"running turns on workers needs {error.name!r}, which is not installed. "
            f"Install it with: {INSTALL}"
        ) from None


def redis_asyncio() -> Any:
    """`redis.asyncio`."""
    return need("redis.asyncio")


def no_client_info() -> dict[str, Any]:
    """redis-py's arguments that skip CLIENT SETINFO when a connection opens (`driver_info`
    in newer redis-py; `lib_name`, deprecated there, in older ones)."""
    connection = need("redis.asyncio.connection").AbstractConnection
    if "driver_info" in inspect.signature(connection.__init__).parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


def redis_errors() -> tuple[type[BaseException], ...]:
    """The errors of an unreachable Redis."""
    exceptions = need("redis.exceptions")
    return (exceptions.ConnectionError, exceptions.TimeoutError, OSError)


def shown(url: str) -> str:
    """A service URL without its credentials (error messages are shown to users)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
