"""accord.app: the ways in — the `accord` command line, the HTTP/SSE server and its client.

The server (`accord.app.server`, `accord serve`) needs `pip install 'accord[server]'`; without
it, importing the server raises `accord.app.errors.ServerNotInstalled`, which says so.
"""

from accord.app.client import Client
from accord.app.errors import ApiError
from accord.app.server.auth import Tokens

__all__ = ["ApiError", "Client", "Tokens"]
