"""Client-facing servers. `server.py`: the HTTP/JSON API of CONTRACT.md (aiohttp)."""

from senate.api.server import build_app, start_http

__all__ = ["build_app", "start_http"]
