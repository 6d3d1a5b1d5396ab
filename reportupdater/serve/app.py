"""The read-only HTTP app: one function per endpoint over the library.

Input: a loaded config and an output folder. Output: a Starlette application
serving the JSON/CSV/TSV API (``/api/...``), ``/healthz`` and the web page at
``/`` with its vendored static files. Nothing here writes a file. Query strings
are parsed into typed requests at the edge (``data.parse_data_request``); the
library's named errors become JSON error bodies (404, 400, 500).

Every answer built from files carries an ETag and Last-Modified taken from the
identity of the files it reads (inode, size, mtime, ctime), computed before
reading them, so a conditional GET is answered 304 with nothing read.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import hashlib
import io
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..config import Config, ReportConfig
from ..errors import (BadRequestError, NotFoundError, ReportUpdaterError, TemplateError,
                      TimelineError)
from . import data, library

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "tsv": "text/tab-separated-values; charset=utf-8"}
STREAM_ROWS = 2000  # rows per chunk of a CSV/TSV answer
CACHED_BODIES = 128  # JSON data answers kept in memory, the most recent ones


@dataclass
class Server:
    """What every endpoint needs: the config, the folder, the clock and the caches."""

    config: Config
    output_folder: Path
    fixed_now: dt.datetime | None = None
    timelines: data.TimelineCache = field(default_factory=data.TimelineCache)
    statuses: library.StatusCache = field(default_factory=library.StatusCache)

    bodies: "OrderedDict[str, bytes]" = field(default_factory=OrderedDict)
    _bodies_lock: threading.Lock = field(default_factory=threading.Lock)

    def cached_body(self, etag: str, build: Callable[[], bytes]) -> bytes:
        """The body of a JSON answer by its ETag (file identities and parameters), so
        a series asked for again is not re-read nor re-encoded."""
        with self._bodies_lock:
            body = self.bodies.get(etag)
            if body is not None:
                self.bodies.move_to_end(etag)
                return body
        body = build()
        with self._bodies_lock:
            self.bodies[etag] = body
            while len(self.bodies) > CACHED_BODIES:
                self.bodies.popitem(last=False)
        return body

    def now(self) -> dt.datetime:
        if self.fixed_now is not None:
            return self.fixed_now
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# -- conditional requests ------------------------------------------------------------


def validators(parts: Iterable[object], mtimes: Iterable[float]) -> dict[str, str]:
    """ETag (weak: gzip changes the bytes) and Last-Modified for an answer."""
    digest = hashlib.blake2b(repr(list(parts)).encode(), digest_size=12).hexdigest()
    headers = {"ETag": f'W/"{digest}"', "Cache-Control": "no-cache"}
    newest = max(mtimes, default=None)
    if newest is not None:
        headers["Last-Modified"] = email.utils.formatdate(newest, usegmt=True)
    return headers


def not_modified(request: Request, headers: dict[str, str]) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        ours = headers["ETag"].removeprefix("W/")
        return any(tag.strip().removeprefix("W/") in (ours, "*") for tag in match.split(","))
    since = request.headers.get("if-modified-since")
    if since and "Last-Modified" in headers:
        try:
            asked = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return email.utils.parsedate_to_datetime(headers["Last-Modified"]) <= asked
    return False


def conditional(request: Request, headers: dict[str, str],
                build: Callable[[], Response]) -> Response:
    if not_modified(request, headers):
        return Response(status_code=304, headers=headers)
    response = build()
    response.headers.update(headers)
    return response


def json_body(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(document: Any, status: int = 200) -> Response:
    return Response(json_body(document), status_code=status, media_type="application/json")


def error(status: int, message: str) -> Response:
    return json_response({"error": message, "status": status}, status)


# -- the report list and the status ------------------------------------------------------


def _status_validators(server: Server, now: dt.datetime, kind: object) -> dict[str, str]:
    parts: list[object] = [kind, now.replace(minute=0, second=0, microsecond=0)]
    mtimes = []
    files = [library.state_file(server.output_folder)]
    for report in server.config.reports:
        files += [report.timeline_path(server.output_folder, explode)
                  for explode in report.explode_combinations()]
    for path in files:
        found = library.file_identity(path)
        parts.append(found)
        if found is not None:
            mtimes.append(found[2] / 1e9)
    return validators(parts, mtimes)


def freshness(status: Any) -> str:
    """The coloured state of a report in the list."""
    if status.errors:
        return "error"
    if status.last_failure:
        return "failing"
    if status.last_date is None:
        return "empty"
    return "fresh" if status.missing == 0 else "behind"


def report_entry(server: Server, status: Any) -> dict[str, Any]:
    """A report as ``/api/reports`` lists it: the status document's entry, plus
    what a person looking at it needs."""
    report = server.config.report(status.report)
    entry = {"name": status.report, **status.as_json()}
    entry.update({
        "state": freshness(status),
        "description": getattr(report, "description", None),
        "ticket": getattr(report, "ticket", None),
        # the firing alerts, named for the list page
        "alerts": [{"name": f"{a['rule']} ({a['series']})", **a}
                   for a in status.alerts_firing] or None,
        "explode_by": ({name: list(values) for name, values in report.explode_by}
                       if report else {}),
        "graphite": bool(report and report.graphite),
    })
    return entry


async def list_reports(request: Request) -> Response:
    server: Server = request.app.state.server
    now = server.now()
    headers = _status_validators(server, now, "reports")

    def build() -> Response:
        found, problem = library.statuses(server.config, server.output_folder, now,
                                          server.statuses)
        return json_response({"now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "state_error": problem,
                              "reports": [report_entry(server, s) for s in found]})

    return conditional(request, headers, build)


async def one_report(request: Request) -> Response:
    server: Server = request.app.state.server
    name = request.path_params["report"]
    if name not in server.config.report_keys:
        data.find_report(server.config, name)  # raises the 404
    now = server.now()
    found, _ = library.statuses(server.config, server.output_folder, now, server.statuses)
    status = next(s for s in found if s.report == name)
    return json_response(report_entry(server, status))


async def status(request: Request) -> Response:
    server: Server = request.app.state.server
    now = server.now()
    running = library.run_in_progress(server.config)
    # A run in progress is shown with its elapsed time: then never answer 304.
    headers = _status_validators(server, now, ["status", running])

    def build() -> Response:
        found = library.statuses(server.config, server.output_folder, now, server.statuses)
        return json_response(library.status_json(server.config, server.output_folder, now,
                                                 found, running))

    return conditional(request, headers, build)


async def healthz(request: Request) -> Response:
    server: Server = request.app.state.server
    return json_response({"status": "ok", "reports": len(server.config.report_keys),
                          "output_folder_exists": server.output_folder.is_dir()})


# -- data ----------------------------------------------------------------------------------


def _format(request: Request) -> str:
    kind = request.query_params.get("format", "json")
    if kind not in FORMATS:
        raise BadRequestError(f"format {kind!r} is not one of: {', '.join(FORMATS)}")
    return kind


def delimited(table: data.Table, delimiter: str) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(table.header)
    rows = table.rows
    for start in range(0, len(rows), STREAM_ROWS):
        writer.writerows(rows[start:start + STREAM_ROWS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.tell() or not rows:
        yield out.getvalue()


async def report_data(request: Request) -> Response:
    server: Server = request.app.state.server
    report = data.find_report(server.config, request.path_params["report"])
    kind = _format(request)
    parsed = data.parse_data_request(report, list(request.query_params.multi_items()))
    files = data.file_identities(parsed, server.output_folder)
    headers = validators(["data", kind, sorted(request.query_params.multi_items()),
                          [f[:2] if f else None for f in files]],
                         [f[2] for f in files if f])

    def build() -> Response:
        if kind == "json":
            body = server.cached_body(headers["ETag"], lambda: json_body(
                data.read_table(parsed, server.output_folder, server.timelines).as_json()))
            return Response(body, media_type="application/json")
        table = data.read_table(parsed, server.output_folder, server.timelines)
        name = report.key + "".join(f"-{v}" for v in table.explode.values()) + "." + kind
        return StreamingResponse(
            delimited(table, "," if kind == "csv" else "\t"), media_type=FORMATS[kind],
            headers={"Content-Disposition": f'inline; filename="{name}"'})

    return conditional(request, headers, build)


async def report_query(request: Request) -> Response:
    server: Server = request.app.state.server
    report = data.find_report(server.config, request.path_params["report"])
    params = list(request.query_params.multi_items())
    unknown = [k for k, _ in params if k != "date" and not k.startswith("explode.")]
    if unknown:
        raise BadRequestError(f"unknown parameter {unknown[0]!r}; the parameters are: "
                              "date, explode.NAME")
    dates = [v for k, v in params if k == "date"]
    if not dates:
        raise BadRequestError(f"date is required: /api/reports/{report.key}/query?date="
                              "YYYY-MM-DD")
    date = data.parse_date(report, "date", dates[-1])
    explode = data.parse_explode(report, [(k[len("explode."):], v) for k, v in params
                                          if k.startswith("explode.")])
    missing = [name for name in report.placeholders if name not in explode]
    if missing:
        raise BadRequestError(f"report {report.key!r} explodes by {', '.join(missing)}; "
                              f"pass {', '.join(f'explode.{m}=VALUE' for m in missing)}")
    moment = dt.datetime.strptime(date, report.granularity.date_format)
    text = library.rendered_query(report, moment, explode)
    return Response(text, media_type="text/plain; charset=utf-8")


# -- the page --------------------------------------------------------------------------------


def static_files() -> dict[str, Path]:
    """The files served under /static/, by name: a fixed list, never a path from a URL."""
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in STATIC_TYPES}


async def index(request: Request) -> Response:
    return _static(request, "index.html")


async def static(request: Request) -> Response:
    return _static(request, request.path_params["name"])


def _static(request: Request, name: str) -> Response:
    files: dict[str, Path] = request.app.state.static
    path = files.get(name)
    if path is None:
        raise NotFoundError(f"no static file {name!r}")
    st = path.stat()
    headers = validators(["static", name, st.st_size, st.st_mtime_ns], [st.st_mtime])
    return conditional(request, headers, lambda: Response(
        path.read_bytes(), media_type=STATIC_TYPES[path.suffix]))


# -- the application ------------------------------------------------------------------------


async def _not_found(request: Request, exc: Exception) -> Response:
    return error(404, str(exc))


async def _bad_request(request: Request, exc: Exception) -> Response:
    return error(400, str(exc))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error(500, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: f"no such page: {request.url.path}",
               405: f"{request.method} is not allowed here: this server is read-only"}
    return error(exc.status_code, message.get(exc.status_code, str(exc.detail)))


def routes() -> list[Route]:
    return [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/healthz", healthz),
        Route("/api/status", status),
        Route("/api/reports", list_reports),
        Route("/api/reports/{report}", one_report),
        Route("/api/reports/{report}/data", report_data),
        Route("/api/reports/{report}/query", report_query),
    ]


def create_app(config: Config, output_folder: Path, *, now: dt.datetime | None = None,
               cors_origins: Sequence[str] = (), extra_routes: Sequence[Route] = ()
               ) -> Starlette:
    """The server for ``config``'s reports in ``output_folder``.

    ``now`` fixes the clock (default: the clock, read per request);
    ``cors_origins`` allows those origins to read the API from a browser;
    ``extra_routes`` are mounted before the built-in ones (later features, such
    as a metrics API, add theirs here). The app's ``state.server`` holds the
    config, folder and caches for those routes.
    """
    middleware = [Middleware(GZipMiddleware, minimum_size=500)]
    if cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(cors_origins),
                                     allow_methods=["GET", "HEAD"],
                                     expose_headers=["ETag", "Last-Modified"]))
    app = Starlette(
        routes=[*extra_routes, *routes()], middleware=middleware,
        exception_handlers={NotFoundError: _not_found, BadRequestError: _bad_request,
                            TimelineError: _server_error, TemplateError: _server_error,
                            ReportUpdaterError: _server_error, HTTPException: _http_error})
    app.state.server = Server(config, Path(output_folder), now)
    app.state.static = static_files()
    return app
