"""Request ids, JSON logs and Prometheus metrics.

Every request gets an id (the caller's ``X-Request-ID`` if it is sane, else a new one) that appears in
the response header, in every log line written while serving it, and in the stored classifications.
Texts are never logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("feedback.access")


def new_request_id(incoming: str | None) -> str:
    return incoming if incoming and _SANE_ID.match(incoming) else uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers ingest without parsing rules."""

    _RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for k, v in vars(record).items():
            if k not in self._RESERVED and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our access log carries the request id


class Metrics:
    """The app's Prometheus metrics, in their own registry (one per app: tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("feedback_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram(
            "feedback_http_request_duration_seconds", "Request latency", ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry)
        self.errors = Counter("feedback_http_errors_total", "Responses with status >= 500 and unhandled errors",
                              ["route"], registry=self.registry)
        self.predictions = Counter("feedback_predictions_total", "Predicted labels", ["head", "label"],
                                   registry=self.registry)
        self.items = Counter("feedback_classified_items_total", "Texts classified", registry=self.registry)
        self.model_info = Gauge("feedback_model_info", "The model version being served (value 1)", ["version"],
                                registry=self.registry)
        self.model_reloads = Counter("feedback_model_reloads_total", "Champion changes picked up",
                                     registry=self.registry)
        self.rate_limited = Counter("feedback_rate_limited_total", "Requests refused with 429", ["key_id"],
                                    registry=self.registry)

    def set_model_version(self, version: str | None) -> None:
        self.model_info.clear()
        if version is not None:
            self.model_info.labels(version=version).set(1)

    def observe_results(self, results: list[dict]) -> None:
        self.items.inc(len(results))
        for r in results:
            for it in r["issue_types"]:
                self.predictions.labels("issue_type", it["label"]).inc()
            self.predictions.labels("sentiment", r["sentiment"]["label"]).inc()
            self.predictions.labels("urgency", r["urgency"]["level"]).inc()
            self.predictions.labels("priority", r["priority"]).inc()


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` while the body streams in. An HTTPException, because FastAPI turns any
    other error raised while reading the body into a generic 400."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class RequestContextMiddleware:
    """Pure ASGI middleware: request id, body-size limit, access log, metrics.

    Pure ASGI (not ``BaseHTTPMiddleware``) so the body limit is enforced while the body streams in,
    before anything buffers it, and so that nothing here adds a thread hop to the latency budget.
    """

    def __init__(self, app, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = new_request_id(headers.get("x-request-id"))
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = {"code": 500, "started": False}
        limit = self.max_body_bytes

        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, rid, 413, f"request body is {declared} bytes; the limit is {limit}")
            status["code"] = 413
            self._record(scope, status["code"], start, rid)
            request_id_var.reset(token)
            return

        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not status["started"]:
                await self._reject(send, rid, 413, f"request body exceeds the limit of {limit} bytes")
            status["code"] = 413
        except Exception:
            logging.getLogger("feedback.api").exception("unhandled error")
            if not status["started"]:
                await self._reject(send, rid, 500, "internal error; the request id identifies it in the logs")
            status["code"] = 500
        finally:
            self._record(scope, status["code"], start, rid)
            request_id_var.reset(token)

    def _record(self, scope, code: int, start: float, rid: str) -> None:
        elapsed = time.perf_counter() - start
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(method, path, str(code)).inc()
        self.metrics.latency.labels(method, path).observe(elapsed)
        if code >= 500:
            self.metrics.errors.labels(path).inc()
        access_log.info("%s %s %s", method, scope.get("path"), code, extra={
            "method": method, "path": scope.get("path"), "status": code,
            "duration_ms": round(elapsed * 1000, 2), "key_id": scope.get("state", {}).get("key_id")})

    @staticmethod
    async def _reject(send, rid: str, code: int, message: str) -> None:
        body = json.dumps({"detail": message, "request_id": rid}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": code, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid.encode())]})
        await send({"type": "http.response.body", "body": body})
