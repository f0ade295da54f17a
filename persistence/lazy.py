"""Lazy public names: a part's `__init__.py` says which module defines each of its names, and
that module is imported when the name is first used, so `import accord.app` (and so
`accord --help`) loads no database, model or server library before one is needed.

The one form an `__init__.py` may use (`tests/test_api.py` checks it): type checkers and IDEs
read the real imports, the interpreter the table.

    if TYPE_CHECKING:
        from accord.persistence.errors import AccordError
    else:
        __getattr__, __dir__ = _lazy.exports(__name__, {"AccordError": ".errors"})

A name must not be a submodule's (importing the submodule would rebind it), unless the name is
that submodule: `"events": ".events"`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def exports(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`package`'s `__getattr__` and `__dir__` (PEP 562), given the module (relative to
    `package`) that defines each public name."""

    def __getattr__(name: str) -> object:
        if name not in where:
            # also how `from package import submodule` learns to import the submodule
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(where[name], package)
        # a name may be a submodule itself (`from accord.graphs import events`)
        value = module if module.__name__ == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)  # later lookups never come back here
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
