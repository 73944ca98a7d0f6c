"""Server-rendered defect-alert dashboard (Chinese UI): alert list, alert detail with acknowledge/resolve,
topic overview. No JavaScript; the trend chart is inline SVG drawn here.

Auth: the caller needs the ``read`` scope. Programs send the usual ``Authorization: Bearer`` /
``X-API-Key`` headers; browsers log in at ``/dashboard/login`` with an API key, which is kept in an
HttpOnly, SameSite=Strict cookie scoped to ``/dashboard`` (Secure behind HTTPS). Unauthenticated page
requests are redirected to the login page (clients that only accept JSON get 401).

CSRF: login sets a second random cookie (the session nonce); every form carries
``HMAC-SHA256(key=api key, nonce)``, checked in constant time on each POST authenticated by cookie.
A cross-site page can neither read the cookies nor compute the token, a token leaked from one page
dies with the session, and a cookie planted by a sibling host is useless without the key. POSTs with
an ``Origin`` header from another host are refused as well. Requests authenticated by header need no
token (browsers never add those headers on their own).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from inference.alerting.store import (
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    AlertNotFound,
    AlertStore,
    InvalidTransition,
    as_utc,
)
from inference.auth import ANONYMOUS, Principal
from inference.dependencies import _presented_key
from inference.pii import mask_pii
from inference.services import Services

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "dashboard"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
KEY_COOKIE = "fbdash_key"
NONCE_COOKIE = "fbdash_nonce"
COOKIE_PATH = "/dashboard"
SESSION_SECONDS = 8 * 3600
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")
TOPICS_RECHECK_S = 60.0

STATUS_NAMES = {"new": "新告警", "acknowledged": "已确认", "resolved": "已解决"}
SEVERITY_NAMES = {"critical": "严重", "major": "重要", "minor": "一般"}
KIND_NAMES = {"topic": "主题", "issue_type": "问题类型"}
ACTION_LABELS = {"acknowledged": "确认", "resolved": "解决"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# ------------------------------------------------------------------------------------------ formatting
def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return "—"
    return as_utc(value).astimezone(DISPLAY_TZ).strftime(fmt)


def window_range(start: Any, end: Any, short: bool = False) -> str:
    """A window as inclusive local dates (the stored end is exclusive), e.g. ``2026-10-19 至 2026-10-25``."""
    if start is None or end is None:
        return "—"
    s, e = as_utc(start).astimezone(DISPLAY_TZ), as_utc(end).astimezone(DISPLAY_TZ)
    last = e - timedelta(seconds=1)
    if (s.hour, s.minute, e.hour, e.minute) != (0, 0, 0, 0):
        fmt = "%m-%d %H:%M" if short else "%Y-%m-%d %H:%M"
        return f"{s.strftime(fmt)} — {e.strftime(fmt)}"
    fmt = "%m-%d" if short else "%Y-%m-%d"
    return f"{s.strftime(fmt)} 至 {last.strftime(fmt)}" + ("" if short else f"（{(e - s).days} 天）")


def fmt_ratio(value: float | None, baseline: float | None = None) -> str:
    if value is None or not math.isfinite(value) or (baseline is not None and baseline == 0):
        return "∞ (新出现)"
    return f"×{value:.1f}"


def fmt_p(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


templates.env.filters.update(local_time=local_time, ratio=fmt_ratio, pvalue=fmt_p)
templates.env.globals.update(window_range=window_range)
templates.env.globals.update(STATUS_NAMES=STATUS_NAMES, SEVERITY_NAMES=SEVERITY_NAMES, KIND_NAMES=KIND_NAMES,
                             ACTION_LABELS=ACTION_LABELS)


def trend_svg(trend: list, current_start: Any = None, baseline: float | None = None,
              width: int = 960, height: int = 260) -> Markup:
    """Bars per window (the alert's window highlighted) and a dashed baseline, as inline SVG."""
    points = [(as_utc(t), int(c)) for t, c in (trend or [])]
    if not points:
        return Markup('<p class="muted">暂无趋势数据</p>')
    current = as_utc(current_start) if current_start is not None else points[-1][0]
    left, right, top, bottom = 44, 12, 28, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(c for _, c in points), math.ceil(baseline or 0), 1)
    step = 10 ** max(0, len(str(peak)) - 1)
    y_max = max(step, math.ceil(peak * 1.1 / step) * step) if peak > 5 else peak + 1
    slot = plot_w / len(points)
    bar_w = max(4.0, min(48.0, slot * 0.62))

    def y(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="trend-title">',
             '<title id="trend-title">每个时间窗口的投诉数趋势</title>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    for frac in (0, 0.5, 1):
        v = y_max * frac
        yy = y(v)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" stroke="#e5e7eb" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" fill="#6b7280">'
                     f'{v:g}</text>')
    label_every = max(1, math.ceil(len(points) / 10))
    for i, (start, count) in enumerate(points):
        cx = left + slot * (i + 0.5)
        is_current = start == current
        fill = "#dc2626" if is_current else "#93c5fd"
        parts.append(f'<rect class="{"bar current" if is_current else "bar"}" x="{cx - bar_w / 2:.1f}" '
                     f'y="{y(count):.1f}" width="{bar_w:.1f}" height="{max(0.0, y(0) - y(count)):.1f}" fill="{fill}">'
                     f'<title>{escape(local_time(start, "%Y-%m-%d"))}: {count} 条</title></rect>')
        parts.append(f'<text x="{cx:.1f}" y="{y(count) - 5:.1f}" text-anchor="middle" font-size="11" '
                     f'fill="{"#991b1b" if is_current else "#374151"}">{count}</text>')
        if i % label_every == 0 or is_current:
            parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 16:.1f}" text-anchor="middle" font-size="11" '
                         f'fill="#4b5563">{escape(local_time(start, "%m-%d"))}</text>')
    if baseline is not None and baseline > 0:
        yb = y(baseline)
        parts.append(f'<line class="baseline" x1="{left}" y1="{yb:.1f}" x2="{width - right}" y2="{yb:.1f}" '
                     f'stroke="#6b7280" stroke-width="1.5" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{left + 4}" y="{yb - 5:.1f}" text-anchor="start" font-size="11" '
                     f'fill="#4b5563">基线 {baseline:.1f}</text>')
    parts.append(f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="#9ca3af"/>')
    parts.append(f'<text x="{left}" y="16" font-size="12" fill="#374151">投诉数 / 窗口（窗口开始日期，北京时间；'
                 f'红色 = 本次告警窗口）</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="11" '
                 f'fill="#6b7280">窗口开始</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def size_bar(value: int, peak: int, width: int = 120) -> Markup:
    w = 0 if peak <= 0 else max(1, round(width * value / peak))
    return Markup(f'<svg class="sizebar" width="{width}" height="10" viewBox="0 0 {width} 10" aria-hidden="true">'
                  f'<rect x="0" y="0" width="{width}" height="10" fill="#eef2ff"/>'
                  f'<rect x="0" y="0" width="{w}" height="10" fill="#6366f1"/></svg>')


# ------------------------------------------------------------------------------------------ auth
@dataclass(frozen=True)
class DashboardUser:
    principal: Principal
    via_cookie: bool
    csrf: str


def csrf_token(key: str, nonce: str) -> str:
    return hmac.new(key.encode("utf-8"), f"dashboard-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _safe_next(target: str | None) -> str:
    """Only paths inside the dashboard: never an open redirect."""
    if not target or not target.startswith("/dashboard") or target.startswith("//") or "\\" in target:
        return "/dashboard/alerts"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/dashboard/alerts"
    return target


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _html_headers(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def _clear_cookies(response: Response) -> Response:
    for name in (KEY_COOKIE, NONCE_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


def _login_redirect(request: Request, reason: str | None = None) -> Response:
    if _wants_json(request):
        return Response('{"detail": "missing API key: log in at /dashboard/login or send a Bearer key"}',
                        status_code=401, media_type="application/json", headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target if request.method == "GET" else "/dashboard/alerts"}
    if reason:
        query["reason"] = reason
    response = RedirectResponse(f"/dashboard/login?{urlencode(query)}", status_code=303)
    return _clear_cookies(response) if reason else response


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    return _html_headers(response)


def _message(request: Request, title: str, message: str, status_code: int, user: DashboardUser | None = None,
             ) -> HTMLResponse:
    return _page(request, "message.html", {"title": title, "message": message, "user": user},
                 status_code=status_code)


def authorize(request: Request, services: Services) -> DashboardUser | Response:
    """The dashboard caller (cookie or header key with read scope), or the response to send instead.
    Blocking (key lookup): call it in the threadpool."""
    if not services.settings.auth_enabled:
        nonce = request.cookies.get(NONCE_COOKIE) or "anonymous"
        return DashboardUser(ANONYMOUS, via_cookie=True, csrf=csrf_token("-", nonce))
    header_key = _presented_key(request)
    key = header_key or request.cookies.get(KEY_COOKIE)
    if not key:
        return _login_redirect(request)
    principal = services.keys.authenticate(key)
    if principal is None:
        if header_key:
            return Response('{"detail": "invalid or revoked API key"}', status_code=401,
                            media_type="application/json", headers={"WWW-Authenticate": "Bearer"})
        return _login_redirect(request, reason="expired")
    request.scope.setdefault("state", {})["key_id"] = principal.key_id
    if not principal.allows("read"):
        return _message(request, "无权访问", "该 API 密钥没有 read 权限，无法查看缺陷告警看板。", 403)
    wait = services.limiter.acquire(principal.key_id, principal.rate_limit_per_minute)
    if wait > 0:
        services.metrics.rate_limited.labels(principal.key_id).inc()
        response = _message(request, "请求过于频繁", "请稍后再试。", 429)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    nonce = request.cookies.get(NONCE_COOKIE, "")
    return DashboardUser(principal, via_cookie=header_key is None, csrf=csrf_token(key, nonce))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == (request.headers.get("host") or "").lower()


async def _form(request: Request) -> dict[str, str] | None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return None
    raw = await request.body()
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in parsed.items()}


def _check_csrf(user: DashboardUser, form: dict[str, str]) -> bool:
    """Cookie sessions need the form token; header-authenticated callers cannot be forged by a browser."""
    if not user.via_cookie:
        return True
    return hmac.compare_digest(form.get("csrf", "").encode(), user.csrf.encode())


def _services(request: Request) -> Services:
    return request.app.state.services


# ------------------------------------------------------------------------------------------ routes
@router.get("/static/dashboard.css")
async def stylesheet() -> Response:
    return Response(_css(), media_type="text/css; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES_DIR / "dashboard.css").read_text(encoding="utf-8")


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home() -> Response:
    return RedirectResponse("/dashboard/alerts", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:  # noqa: A002
    error = "登录已失效或密钥已被吊销，请重新登录。" if reason == "expired" else None
    return _page(request, "login.html", {"next": _safe_next(next), "error": error, "user": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    services = _services(request)
    if not _same_origin(request):
        return _message(request, "请求被拒绝", "跨站提交的登录请求已被拒绝。", 403)
    form = await _form(request)
    if form is None:
        return _message(request, "请求无效", "登录表单格式不正确。", 400)
    nxt = _safe_next(form.get("next"))
    key = (form.get("api_key") or "").strip()
    principal = await run_in_threadpool(services.keys.authenticate, key) if key else None
    if principal is None:
        return _page(request, "login.html", {"next": nxt, "error": "API 密钥无效或已被吊销。", "user": None},
                     status_code=401)
    if not principal.allows("read"):
        return _page(request, "login.html", {"next": nxt, "error": "该 API 密钥没有 read 权限。", "user": None},
                     status_code=403)
    response = RedirectResponse(nxt, status_code=303)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    for name, value in ((KEY_COOKIE, key), (NONCE_COOKIE, secrets.token_urlsafe(24))):
        response.set_cookie(name, value, max_age=SESSION_SECONDS, path=COOKIE_PATH, httponly=True,
                            samesite="strict", secure=secure)
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    services = _services(request)
    user = await run_in_threadpool(authorize, request, services)
    if isinstance(user, Response):
        return _clear_cookies(RedirectResponse("/dashboard/login", status_code=303))
    form = await _form(request) or {}
    if not _same_origin(request) or not _check_csrf(user, form):
        return _message(request, "请求被拒绝", "安全校验失败（CSRF），请刷新页面后重试。", 403, user)
    return _clear_cookies(RedirectResponse("/dashboard/login", status_code=303))


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, product: str | None = None, status: str | None = None,
                      severity: str | None = None, limit: int = 200) -> Response:
    services = _services(request)
    user = await run_in_threadpool(authorize, request, services)
    if isinstance(user, Response):
        return user
    product = (product or "").strip()[:128] or None
    status = status if status in STATUSES else None
    severity = severity if severity in SEVERITY_NAMES else None
    limit = max(1, min(int(limit), 1000))
    store = AlertStore(services.db, services.settings)

    def load():
        return (store.list(product=product, status=status, severity=severity, limit=limit), store.counts(product),
                store.products())

    rows, counts, products = await run_in_threadpool(load)
    return _page(request, "alerts.html", {
        "user": user, "active": "alerts", "alerts": rows, "counts": counts, "products": products,
        "filters": {"product": product or "", "status": status or "", "severity": severity or ""},
        "statuses": STATUSES, "severities": list(SEVERITY_NAMES), "open_statuses": OPEN_STATUSES,
        "issue_names": _issue_names(services),
    })


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
async def alert_page(request: Request, alert_id: str, msg: str | None = None) -> Response:
    services = _services(request)
    user = await run_in_threadpool(authorize, request, services)
    if isinstance(user, Response):
        return user
    store = AlertStore(services.db, services.settings)

    def load():
        alert = store.get(alert_id[:64])
        return alert, (store.history(alert.id) if alert else [])

    alert, history = await run_in_threadpool(load)
    if alert is None:
        return _message(request, "告警不存在", f"找不到编号为 {alert_id[:64]} 的告警。", 404, user)
    notices = {"acknowledged": "已确认该告警。", "resolved": "已将该告警标记为已解决。",
               "invalid": "当前状态下不能执行该操作。"}
    return _page(request, "alert.html", {
        "user": user, "active": "alerts", "alert": alert, "history": history, "notice": notices.get(msg or ""),
        "chart": trend_svg(alert.trend, alert.window_start, alert.baseline),
        "actions": [s for s in ("acknowledged", "resolved") if s in TRANSITIONS.get(alert.status, ())],
        "issue_names": _issue_names(services),
    })


@router.post("/alerts/{alert_id}/status", response_class=HTMLResponse)
async def alert_status(request: Request, alert_id: str) -> Response:
    services = _services(request)
    user = await run_in_threadpool(authorize, request, services)
    if isinstance(user, Response):
        return user
    form = await _form(request)
    if form is None:
        return _message(request, "请求无效", "表单格式不正确。", 400, user)
    if not _same_origin(request) or not _check_csrf(user, form):
        return _message(request, "请求被拒绝", "安全校验失败（CSRF），请刷新页面后重试。", 403, user)
    status = form.get("status", "")
    if status not in ("acknowledged", "resolved"):
        return _message(request, "请求无效", "未知的状态。", 400, user)
    note = (form.get("note") or "").strip()[:2000] or None
    store = AlertStore(services.db, services.settings)
    by = f"{user.principal.name} ({user.principal.key_id})"
    try:
        await run_in_threadpool(store.set_status, alert_id[:64], status, by, note)
    except AlertNotFound:
        return _message(request, "告警不存在", f"找不到编号为 {alert_id[:64]} 的告警。", 404, user)
    except InvalidTransition:
        return RedirectResponse(f"/dashboard/alerts/{quote(alert_id[:64])}?msg=invalid", status_code=303)
    return RedirectResponse(f"/dashboard/alerts/{quote(alert_id[:64])}?msg={status}", status_code=303)


@router.get("/topics", response_class=HTMLResponse)
async def topics_page(request: Request) -> Response:
    services = _services(request)
    user = await run_in_threadpool(authorize, request, services)
    if isinstance(user, Response):
        return user
    overview = await run_in_threadpool(_topic_overview, request.app, services)
    store = AlertStore(services.db, services.settings)
    open_alerts = await run_in_threadpool(
        lambda: [a for a in store.list(key_kind="topic", limit=1000) if a.status in OPEN_STATUSES])
    per_topic: dict[str, int] = {}
    for a in open_alerts:
        per_topic[a.key] = per_topic.get(a.key, 0) + 1
    topics = overview.get("topics") or []
    peak = max((t["size"] for t in topics), default=0)
    return _page(request, "topics.html", {
        "user": user, "active": "topics", "overview": overview, "topics": topics, "open_alerts": per_topic,
        "bars": {t["topic"]: size_bar(t["size"], peak) for t in topics}, "issue_names": _issue_names(services),
    })


def _issue_names(services: Services) -> dict[str, str]:
    return _issue_names_cached(str(services.settings.taxonomy_path))


@lru_cache(maxsize=4)
def _issue_names_cached(path: str) -> dict[str, str]:
    try:
        from models.taxonomy import load_taxonomy

        tax = load_taxonomy(Path(path))
        return {label: tax.issue_name(label) for label in tax.issue_type_ids}
    except Exception:  # noqa: BLE001 - display names only
        return {}


def _topic_overview(app, services: Services) -> dict:
    """Topic table of the ``feedback-topics`` champion, cached per version (re-checked every minute)."""
    settings = services.settings
    cache = getattr(app.state, "dashboard_topics", None)
    now = time.monotonic()
    if cache and now - cache["checked"] < TOPICS_RECHECK_S:
        return cache["overview"]
    from training.topics import REGISTERED_MODEL_NAME

    uri = f"models:/{REGISTERED_MODEL_NAME}@{settings.champion_alias}"
    try:
        from mlflow import MlflowClient

        version = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri) \
            .get_model_version_by_alias(REGISTERED_MODEL_NAME, settings.champion_alias).version
    except Exception as exc:  # noqa: BLE001 - no model registered yet is the normal first state
        overview = {"available": False, "uri": uri, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        app.state.dashboard_topics = {"checked": now, "overview": overview, "version": None}
        return overview
    if cache and cache.get("version") == version:
        cache["checked"] = now
        return cache["overview"]
    try:
        from training.topics import load_topic_model

        tm = load_topic_model(settings)
        report = tm.quality_report()
        for t in report["topics"]:  # training texts may not have been masked
            t["representative_docs"] = [mask_pii(str(d)) for d in t.get("representative_docs", [])]
        overview = {"available": True, "uri": uri, "version": str(version), "topics": report["topics"],
                    "topic_count": report["topic_count"], "outlier_share": report["outlier_share"],
                    "n_docs": report["n_docs"], "backend": report["backend"],
                    "loaded_at": datetime.now(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")}
    except Exception as exc:  # noqa: BLE001 - show the error on the page, keep the dashboard up
        overview = {"available": False, "uri": uri, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    app.state.dashboard_topics = {"checked": now, "overview": overview, "version": version}
    return overview
