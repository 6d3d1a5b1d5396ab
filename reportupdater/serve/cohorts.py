"""The cohort metrics API of ``serve``: list cohorts, measure a metric, jobs, uploads.

Input: the config (its databases and ``cohorts:``), the cohorts folder of
uploads and the server's options. Output: Starlette routes, mounted through
``create_app(..., extra_routes=...)``:

- ``GET /api/cohorts``: the cohorts (the config's and the uploaded ones) and
  the metrics with their parameters;
- ``GET /api/cohorts/{cohort}/{metric}?wiki=&start=&end=&t=&n=&a=&b=&k=
  &namespaces=&include_deleted=&per_user=true``: the parameters used
  (defaults filled in), the aggregates, the unknown users and, when asked,
  every member's value. A measurement runs on a thread pool; one still
  running after ``sync_seconds`` is answered 202 with a job URL;
- ``GET /api/jobs/{id}``: 202 while the job runs, then its answer;
- ``POST /api/cohorts?name=&db=&wiki=``: a CSV of users (only with
  ``allow_upload``), validated against ``user`` and stored in the cohorts
  folder, never in the output folder.

Measurements are cached by their parameters (and the identity of a cohort
file), so asking again answers from memory (header ``X-Cache: hit``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..cohorts import METRICS, Measurement, Span, measure, metric_params
from ..cohorts.measure import default_wiki
from ..cohorts.members import WIKI_NAME
from ..cohorts.metrics import TIMESTAMP
from ..cohorts.spec import CohortConfig, describe
from ..cohorts.uploads import store_upload, uploaded_cohorts, with_cohorts
from ..config import Config
from ..errors import CohortError, CohortUploadError, MetricParameterError
from ..intervals import parse_moment
from .library import file_identity

SYNC_SECONDS = 2.0  # longer than this, a measurement answers 202 with a job
WORKERS = 2
CACHED_MEASUREMENTS = 64
KEPT_JOBS = 256
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
METRIC_PARAMETERS = ("window", "t", "start", "end", "namespaces", "include_deleted", "n", "a",
                     "b", "k")
OTHER_PARAMETERS = ("wiki", "per_user", "cohort_start", "cohort_end")


class ApiError(Exception):
    """An answer other than 200: its status, message and the parameter at fault."""

    def __init__(self, status: int, message: str, parameter: str | None = None):
        super().__init__(message)
        self.status = status
        self.parameter = parameter


@dataclass
class Job:
    id: str
    future: Future
    per_user: bool
    context: dict[str, Any]


@dataclass
class CohortService:
    """What the cohort endpoints share: the pool, the cache and the jobs."""

    config: Config
    cohorts_folder: Path | None = None
    allow_upload: bool = False
    sync_seconds: float = SYNC_SECONDS
    workers: int = WORKERS
    pool: ThreadPoolExecutor = field(init=False)
    results: "OrderedDict[tuple, Measurement]" = field(default_factory=OrderedDict)
    running: dict[tuple, Future] = field(default_factory=dict)
    jobs: "OrderedDict[str, Job]" = field(default_factory=OrderedDict)
    # Reentrant: a measurement that is over before add_done_callback runs its
    # callback at once, in the thread that holds the lock.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=self.workers,
                                       thread_name_prefix="cohort-metric")

    def cohorts(self) -> dict[str, CohortConfig]:
        return {**uploaded_cohorts(self.cohorts_folder), **self.config.cohorts}

    def submit(self, key: tuple, work: Callable[[], Measurement]) -> tuple[Future, bool]:
        """The measurement of ``key``: cached (True), running, or started now."""
        with self.lock:
            if key in self.results:
                self.results.move_to_end(key)
                done: Future = Future()
                done.set_result(self.results[key])
                return done, True
            future = self.running.get(key)
            if future is None:
                future = self.running[key] = self.pool.submit(work)
                future.add_done_callback(lambda f: self._finished(key, f))
            return future, False

    def _finished(self, key: tuple, future: Future) -> None:
        with self.lock:
            self.running.pop(key, None)
            if future.exception() is None:
                self.results[key] = future.result()
                while len(self.results) > CACHED_MEASUREMENTS:
                    self.results.popitem(last=False)

    def new_job(self, future: Future, per_user: bool, context: dict[str, Any]) -> Job:
        job = Job(uuid.uuid4().hex, future, per_user, context)
        with self.lock:
            self.jobs[job.id] = job
            while len(self.jobs) > KEPT_JOBS:
                self.jobs.popitem(last=False)
        return job


# -- answers -----------------------------------------------------------------------------------


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from .app import json_body

    return Response(json_body(document), status_code=status, media_type="application/json",
                    headers=headers)


def _error(e: ApiError) -> Response:
    body: dict[str, Any] = {"error": str(e), "status": e.status}
    if e.parameter:
        body["parameter"] = e.parameter
    return _json(body, e.status)


def _failure(e: BaseException) -> ApiError:
    """A measurement's exception as an answer: bad parameters 400, the rest 500."""
    if isinstance(e, MetricParameterError):
        return ApiError(400, str(e), e.parameter)
    if isinstance(e, CohortError):
        return ApiError(500, str(e))
    return ApiError(500, f"the measurement failed: {type(e).__name__}: {e}")


def measurement_document(result: Measurement, context: dict[str, Any],
                         per_user: bool) -> dict[str, Any]:
    """The JSON answer of a measurement."""
    document: dict[str, Any] = {
        "cohort": result.cohort, "metric": result.metric, "wiki": context["wiki"],
        "parameters": result.params.used(), "aggregates": result.aggregates,
        "unknown": [{"wiki": wiki, "user": user} for wiki, user in result.unknown],
    }
    if context.get("cohort_interval"):
        document["cohort_interval"] = context["cohort_interval"]
    if per_user:
        document["users"] = [{"user_id": u.user_id, "user_name": u.user_name, "wiki": u.wiki,
                              "value": u.value, "reason": u.reason} for u in result.users]
    return document


def _running(job: Job) -> Response:
    url = f"/api/jobs/{job.id}"
    return _json({"job": job.id, "status": "running", "url": url}, 202,
                 {"Location": url, "Cache-Control": "no-store"})


# -- parsing -----------------------------------------------------------------------------------


def _single_params(request: Request) -> dict[str, str]:
    known = METRIC_PARAMETERS + OTHER_PARAMETERS
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in known:
            raise ApiError(400, f"unknown parameter {key!r}; the parameters are: "
                                f"{', '.join(known)}", key)
        if key in params:
            raise ApiError(400, f"parameter {key!r} is given more than once", key)
        params[key] = value
    return params


def _bool(params: dict[str, str], key: str) -> bool:
    value = params.get(key, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(400, f"parameter {key!r} must be true or false, not {params[key]!r}",
                       key)
    return value in ("true", "1")


def _cohort_span(cohort: CohortConfig, params: dict[str, str], metric_start: str | None,
                 metric_end: str | None) -> Span | None:
    """The interval a query cohort is rendered for: cohort_start/end, else start/end."""
    start = params.get("cohort_start")
    end = params.get("cohort_end")
    if start is None and end is None and metric_start and metric_end:
        return Span(dt.datetime.strptime(metric_start, TIMESTAMP),
                    dt.datetime.strptime(metric_end, TIMESTAMP))
    if start is None and end is None:
        if cohort.query is not None:
            raise ApiError(400, f"cohort {cohort.key!r} is a query: give cohort_start and "
                                "cohort_end (or start and end) for its interval",
                           "cohort_start")
        return None
    for key, value in (("cohort_start", start), ("cohort_end", end)):
        if value is None:
            raise ApiError(400, "parameters 'cohort_start' and 'cohort_end' go together", key)
    try:
        span = Span(parse_moment(start), parse_moment(end))
    except ValueError as e:
        raise ApiError(400, f"parameter 'cohort_start'/'cohort_end': {e}",
                       "cohort_start") from e
    if span.start >= span.end:
        raise ApiError(400, f"parameter 'cohort_end' ({end}) must come after 'cohort_start' "
                            f"({start})", "cohort_end")
    return span


# -- endpoints ---------------------------------------------------------------------------------


async def list_or_upload(service: CohortService, request: Request) -> Response:
    if request.method == "POST":
        return await upload(service, request)
    own = service.config.cohorts
    cohorts = [{**describe(c), "uploaded": name not in own}
               for name, c in sorted(service.cohorts().items())]
    metrics = {name: list(m.parameters) for name, m in METRICS.items()}
    return _json({"cohorts": cohorts, "metrics": metrics, "upload": service.allow_upload})


async def measure_metric(service: CohortService, request: Request) -> Response:
    try:
        return await _measure_metric(service, request)
    except ApiError as e:
        return _error(e)


async def _measure_metric(service: CohortService, request: Request) -> Response:
    name = request.path_params["cohort"]
    metric = request.path_params["metric"]
    cohorts = service.cohorts()
    if name not in cohorts:
        raise ApiError(404, f"unknown cohort {name!r}; the cohorts are: "
                            f"{', '.join(sorted(cohorts)) or 'none'}")
    if metric not in METRICS:
        raise ApiError(404, f"unknown metric {metric!r}; the metrics are: "
                            f"{', '.join(METRICS)}")
    cohort = cohorts[name]
    params = _single_params(request)
    per_user = _bool(params, "per_user")
    wiki = params.get("wiki")
    if wiki is not None and not WIKI_NAME.match(wiki):
        raise ApiError(400, f"parameter 'wiki' must be a database name (letters, digits and _ "
                            f"only), not {wiki!r}", "wiki")
    try:
        used = metric_params(metric, {k: v for k, v in params.items()
                                      if k in METRIC_PARAMETERS})
    except MetricParameterError as e:
        raise ApiError(400, str(e), e.parameter) from e
    span = _cohort_span(cohort, params, used.start, used.end)
    database = service.config.databases.get(cohort.db)
    if wiki is None and database is not None:
        try:
            wiki = default_wiki(database, {})
        except CohortError:
            wiki = None
    context = {"wiki": wiki}
    if span is not None and cohort.query is not None:
        context["cohort_interval"] = {"start": span.start.strftime(TIMESTAMP),
                                      "end": span.end.strftime(TIMESTAMP)}
    source = file_identity(cohort.users) if cohort.users is not None else None
    key = (name, cohort.db, str(cohort.users), source, metric, used, wiki,
           (span.start, span.end) if span and cohort.query is not None else None)
    config = with_cohorts(service.config, {name: cohort})

    def work() -> Measurement:
        return measure(config, name, metric, used, span=span, wiki=wiki)

    future, cached = service.submit(key, work)
    if not future.done():
        await asyncio.wait({asyncio.wrap_future(future)}, timeout=service.sync_seconds)
    if not future.done():
        return _running(service.new_job(future, per_user, context))
    exception = future.exception()
    if exception is not None:
        raise _failure(exception)
    return _json(measurement_document(future.result(), context, per_user),
                 headers={"X-Cache": "hit" if cached else "miss"})


async def job(service: CohortService, request: Request) -> Response:
    found = service.jobs.get(request.path_params["id"])
    if found is None:
        return _error(ApiError(404, f"no job {request.path_params['id']!r} (jobs are kept "
                                    f"in memory, the last {KEPT_JOBS})"))
    if not found.future.done():
        return _running(found)
    exception = found.future.exception()
    if exception is not None:
        return _error(_failure(exception))
    return _json(measurement_document(found.future.result(), found.context, found.per_user))


async def upload(service: CohortService, request: Request) -> Response:
    try:
        if not service.allow_upload or service.cohorts_folder is None:
            raise ApiError(403, "uploading cohorts is off; start serve with --allow-upload")
        params = dict(request.query_params)
        for key in request.query_params:
            if key not in ("name", "db", "wiki"):
                raise ApiError(400, f"unknown parameter {key!r}; the parameters are: name, "
                                    "db, wiki", key)
        name = params.get("name")
        if not name:
            raise ApiError(400, "parameter 'name' is required: POST /api/cohorts?name=NAME",
                           "name")
        db = params.get("db")
        if db is None:
            if len(service.config.databases) != 1:
                raise ApiError(400, f"parameter 'db' is required: one of "
                                    f"{', '.join(service.config.databases) or 'none'}", "db")
            db = next(iter(service.config.databases))
        wiki = params.get("wiki")
        if wiki is not None and not WIKI_NAME.match(wiki):
            raise ApiError(400, f"parameter 'wiki' must be a database name (letters, digits "
                                f"and _ only), not {wiki!r}", "wiki")
        body = await request.body()
        if len(body) > MAX_UPLOAD_BYTES:
            raise ApiError(413, f"the CSV is {len(body)} bytes; at most {MAX_UPLOAD_BYTES}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ApiError(400, f"the CSV is not UTF-8: {e}", "body") from e
        if name in service.cohorts():
            raise ApiError(409, f"cohort {name!r} exists already; uploads are never "
                                "replaced, choose another name", "name")
        try:
            stored = await run_in_threadpool(store_upload, service.config,
                                             service.cohorts_folder, name, db, text, wiki)
        except CohortUploadError as e:
            status = 409 if "already uploaded" in str(e) else 400
            raise ApiError(status, str(e), e.parameter) from e
        except CohortError as e:
            raise ApiError(500, str(e)) from e
    except ApiError as e:
        return _error(e)
    count = sum(1 for line in stored.users.read_text().splitlines()[2:] if line)
    return _json({"cohort": {**describe(stored), "uploaded": True}, "users": count,
                  "url": f"/api/cohorts/{name}/{{metric}}"}, 201)


def cohort_routes(service: CohortService) -> list[Route]:
    """The routes of the cohort API over ``service``, for ``create_app(extra_routes=)``."""

    def bound(endpoint: Callable) -> Callable:
        async def answer(request: Request) -> Response:
            return await endpoint(service, request)

        answer.__name__ = endpoint.__name__
        return answer

    return [
        Route("/api/cohorts", bound(list_or_upload), methods=["GET", "HEAD", "POST"]),
        Route("/api/cohorts/{cohort}/{metric}", bound(measure_metric),
              methods=["GET", "HEAD"]),
        Route("/api/jobs/{id}", bound(job), methods=["GET", "HEAD"]),
    ]


def cohorts_folder_for(output_folder: Path, given: Path | None = None) -> Path:
    """Where uploads go: ``given``, or ``<output folder>-cohorts`` beside the output
    folder; never inside the output folder (CohortError)."""
    output = Path(output_folder).resolve()
    folder = Path(given).resolve() if given is not None else output.with_name(
        output.name + "-cohorts")
    if folder == output or output in folder.parents:
        raise CohortError(f"the cohorts folder {str(folder)!r} is inside the output folder "
                          f"{str(output)!r}; uploads are kept apart from the timelines")
    return folder
