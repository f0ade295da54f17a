"""accord.app: the ways in — the `accord` command line, the HTTP/SSE server and its client.

The server (`accord.app.server`, `accord serve`) needs `pip install 'accord[server]'`; without
it, importing the server raises `accord.app.errors.ServerNotInstalled`, which says so.
"""

from typing import TYPE_CHECKING

from accord.persistence import lazy as _lazy

if TYPE_CHECKING:
    from accord.app.client import Client
    from accord.app.errors import ApiError
    from accord.app.server.auth import Tokens
else:
    __getattr__, __dir__ = _lazy.exports(
        __name__,
        {
            "Client": ".client",
            "ApiError": ".errors",
            "Tokens": ".server.auth",
        },
    )

__all__ = ["ApiError", "Client", "Tokens"]
