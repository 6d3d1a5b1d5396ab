"""``reportupdater serve``: a read-only HTTP API and web page over the timelines.

``create_app(config, output_folder, ...)`` builds the Starlette application
(see ``app``); ``run_server`` runs it with uvicorn. Timelines are read through
``data`` (request parsing, path safety, the cache by file identity), statuses
and rendered queries through ``library``, the one adapter onto the library.
"""

from __future__ import annotations

from .app import Server, create_app

__all__ = ["Server", "create_app", "run_server"]


def run_server(app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted (uvicorn, one process)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
