"""accord.app: the ways in — the `accord` command line (and, later, the HTTP/SSE server)."""
