"""Which team a command runs: an example by name, or the user's own graph.

A user's graph is `package.module:attr` or `path/to/file.py:attr`, where `attr` is a compiled
graph or a function of no arguments that returns one; dots in `attr` reach into objects
(`module:teams.support`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel

from accord.app.errors import GraphNotFound, UnknownExample
from accord.evals import EXAMPLES

Graph = Pregel[Any, Any, Any, Any]


def is_path(target: str) -> bool:
    """Whether `target` names a user's graph (`module:attr`, `file.py:attr`), not an example."""
    return ":" in target


def example(name: str, model: str | None = None) -> Graph:
    """The example team `name`, on `model` (default: each agent's own, the embedded one).

    Raises:
        UnknownExample: No such example; the message lists them.
        ModelSpecError: `model` is not a model id accord knows.
    """
    if name not in EXAMPLES:
        raise UnknownExample(
            f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)} "
            "(or give your own graph as module:attr or file.py:attr)"
        )
    spec = EXAMPLES[name]
    if model is None:
        default: Graph = spec.build()
        return default
    from accord.agents import resolve_model

    resolve_model(model)  # a wrong id fails here, with the forms that work
    graph: Graph = spec.build(models=(model,))
    return graph


def team(target: str, model: str | None = None, *, option: str = "graph") -> Graph:
    """The graph `target` names: the user's own (`module:attr`, `file.py:attr`; `option` is
    how its errors name it) or an example's, on `model`.

    Raises:
        GraphNotFound, UnknownExample, ModelSpecError: as `load_graph` and `example`.
    """
    return load_graph(target, option=option) if is_path(target) else example(target, model)


def load_graph(target: str, *, option: str = "graph") -> Graph:
    """The compiled graph `module:attr` or `file.py:attr` names.

    Raises:
        GraphNotFound: The module, file or attribute is missing, or is not a compiled graph.
    """
    where, colon, attr = target.rpartition(":")
    said = f"{option} {target!r}"
    if not colon or not where or not attr:
        raise GraphNotFound(f"{said}: write it as package.module:attribute or file.py:attribute")
    found: Any = _module(where, said)
    for part in attr.split("."):
        if not hasattr(found, part):
            raise GraphNotFound(f"{said}: {where!r} has no attribute {attr!r}")
        found = getattr(found, part)
    if not isinstance(found, Pregel) and callable(found):
        if needed := _required(found):
            raise GraphNotFound(
                f"{said} is a function that needs {', '.join(needed)}; point it at a graph or a "
                "function of no arguments that returns one"
            )
        found = found()
    if not isinstance(found, Pregel):
        raise GraphNotFound(
            f"{said} is a {type(found).__name__}, not a compiled graph; point it at a graph "
            "(builder.compile(), or an accord pattern) or a function returning one"
        )
    return found


def _required(factory: Any) -> list[str]:
    """The parameters `factory` cannot be called without (none known: none)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): call it and see
        return []
    return [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _module(where: str, said: str) -> Any:
    if where.endswith(".py"):
        path = Path(where).expanduser()
        if not path.is_file():
            raise GraphNotFound(f"{said}: no file {where!r}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise GraphNotFound(f"{said}: {where!r} cannot be imported as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # its own dataclasses and pickling look it up there
        sys.path.insert(0, str(path.resolve().parent))  # its sibling modules import too
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.resolve().parent))
        return module
    try:
        return importlib.import_module(where)
    except ImportError as error:
        raise GraphNotFound(
            f"{said}: cannot import {where!r} ({error}); is it on PYTHONPATH?"
        ) from None
