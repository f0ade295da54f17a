"""Workarounds for third-party bugs, each applied only where the bug is present."""

from __future__ import annotations

import importlib


def fix_aiomysql_bytes() -> None:
    """Let aiomysql send bytes parameters again under PyMySQL 1.2.

    PyMySQL 1.2.3 replaced `escape_bytes_prefixed`, which aiomysql 0.3 imports and calls for
    every bytes parameter, with a placeholder string, so any blob write raised
    "TypeError: 'str' object is not callable" (aio-libs/aiomysql#1080, unfixed upstream).
    PyMySQL 1.2's own `escape_bytes` produces the same `_binary X'..'` literal.
    """
    connection = importlib.import_module("aiomysql.connection")
    converters = importlib.import_module("pymysql.converters")
    if isinstance(getattr(connection, "escape_bytes_prefixed", None), str):
        setattr(connection, "escape_bytes_prefixed", converters.escape_bytes)  # noqa: B010
