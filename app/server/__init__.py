"""The HTTP/SSE server: the session API, its chat page, metrics and health."""
