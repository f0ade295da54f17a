"""Metadata filters of `list`: a coarse SQL predicate per dialect, then an exact check in Python.

The SQL side only narrows the rows (it may let through a few that do not match, never drop
one that does); `matches` then applies `InMemorySaver`'s rule: `metadata.get(key) == value`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, cast, func
from sqlalchemy.dialects.postgresql import JSONB


def matches(metadata: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    """Whether checkpoint metadata satisfies a `list` filter exactly."""
    return all(metadata.get(key) == value for key, value in filter.items())


def prefilter(
    dialect: str, column: ColumnElement[str], filter: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    """SQL predicates that keep every row matching `filter` (and perhaps a few more).

    Args:
        dialect: The SQLAlchemy dialect name.
        column: The metadata column (JSON text).
        filter: The `list` filter.

    Returns:
        Predicates to AND into the query.
    """
    # A None value also matches a missing key, which containment cannot express: leave it
    # to `matches`.
    wanted = {k: v for k, v in filter.items() if v is not None}
    if not wanted:
        return []
    if dialect == "postgresql":
        document = bindparam(None, json.dumps(wanted), type_=Text)
        return [cast(column, JSONB).op("@>")(cast(document, JSONB))]
    if dialect in ("mysql", "mariadb"):
        document = bindparam(None, json.dumps(wanted), type_=Text)
        return [func.json_contains(column, document) == 1]
    out: list[ColumnElement[bool]] = []
    for key, value in wanted.items():
        if isinstance(value, (dict, list, tuple)):
            continue  # SQLite renders containers in its own JSON spelling; check in Python
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        extracted = func.json_extract(column, bindparam(None, path, type_=Text))
        # json_extract returns SQL scalars: 1/0 for true/false, so bools compare as ints.
        out.append(extracted == (int(value) if isinstance(value, bool) else value))
    return out
