"""The alert dashboard in a real browser: Debian's Chromium driven by Playwright against the real app
served by uvicorn on 127.0.0.1 (temporary SQLite database, no model needed).

Log in with a read key, find the seeded alert in the list, open it, click 确认, reload, and check the
status both on the page and in the database. Full-page screenshots of the list and the alert go to
``$FEEDBACK_ARTIFACTS_DIR`` (default ``artifacts/`` at the repo root): ``dashboard_list.png`` and
``dashboard_alert.png``. Every request the page makes must stay on our server (no CDN).

Skipped when Playwright or ``/usr/bin/chromium`` is missing, unless ``FEEDBACK_REQUIRE_BROWSER=1``
(CI: ``.ci/setup_browser.sh`` installs Chromium and the CJK fonts). ``playwright install`` is never used.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from inference.alerting import SpikeDetection
from inference.alerting.store import AlertStore
from inference.auth import KeyStore
from inference.storage.engine import Database
from models.settings import REPO_ROOT
from tests.conftest import make_settings, write_tiny_corpus

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SERVER_START_TIMEOUT_S = 30
STEP_TIMEOUT_MS = 15_000
WEEK = pd.Timedelta(days=7)
W0 = pd.Timestamp("2026-09-07", tz="Asia/Shanghai").tz_convert("UTC")


def _require_browser():
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed (.venv/bin/pip install playwright)"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run .ci/setup_browser.sh (apt-get install chromium fonts-noto-cjk)"
    if reason is None:
        return
    if os.environ.get("FEEDBACK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FEEDBACK_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _detection(product: str, key: str, severity: str, counts: list[int], is_safety: bool = False) -> SpikeDetection:
    week = len(counts) - 1
    start = W0 + week * WEEK
    base = counts[:-1]
    mean = sum(base) / len(base)
    return SpikeDetection(product_id=product, key=key, window_start=start, window_end=start + WEEK, count=counts[-1],
                          baseline_mean=mean, ratio=counts[-1] / mean, p_value=2.4e-7, z=7.5, severity=severity,
                          is_new=False, is_safety=is_safety,
                          series=tuple((W0 + i * WEEK, c) for i, c in enumerate(counts)))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real app under uvicorn in a thread; yields (base_url, store, read key, alert id)."""
    _require_browser()
    import uvicorn

    from inference.app import create_app

    root = tmp_path_factory.mktemp("browser")
    write_tiny_corpus(root / "data", copies=1, with_real=False)
    settings = make_settings(root, model_reload_interval_s=0, log_level="WARNING")
    db = Database(settings.database_url)
    store = AlertStore(db, settings)
    [kettle] = store.record(
        [_detection("SKU-KETTLE-1702", "safety_hazard", "critical", [2, 3, 2, 4, 3, 2, 19], is_safety=True)],
        key_kind="issue_type", titles={"safety_hazard": "安全隐患"},
        keywords={"safety_hazard": ["冒烟", "底座", "焦糊味", "跳闸", "发烫"]},
        issue_types={"safety_hazard": ["safety_hazard", "product_quality"]},
        examples={("SKU-KETTLE-1702", "safety_hazard"): [
            "烧水壶底座冒烟，插头发烫，吓死了，电话13812345678", "烧水时跳闸，闻到焦糊味",
            "用了两次底座就冒烟，收件人：王小明", "开水壶漏电，手碰到外壳麻了一下"]})
    store.record([_detection("SKU-PHONE-88", "12", "major", [5, 6, 4, 5, 7, 5, 21])], key_kind="topic",
                 titles={"12": "屏幕、闪烁、亮线"}, keywords={"12": ["屏幕", "闪烁", "亮线"]})
    store.record([_detection("SKU-EARBUD-3", "logistics", "minor", [6, 5, 7, 6, 5, 6, 15])], key_kind="issue_type",
                 titles={"logistics": "物流配送"}, keywords={"logistics": ["快递", "太慢"]})
    read_key, _ = KeyStore(db).create("品控小组", ["read"])

    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn-dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            srv.should_exit = True
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port} within {SERVER_START_TIMEOUT_S}s", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store, read_key, kettle.alert_id
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        db.dispose()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    out = Path(os.environ.get("FEEDBACK_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_login_list_acknowledge_and_persist(server, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, store, read_key, alert_id = server
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=STEP_TIMEOUT_MS * 2)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                          timezone_id="Asia/Shanghai")
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.set_default_navigation_timeout(STEP_TIMEOUT_MS)
            page.on("request", lambda r: outside.append(r.url)
                    if urlsplit(r.url).hostname not in ("127.0.0.1", None) and not r.url.startswith("data:") else None)

            # not logged in: the list redirects to the login page
            page.goto(f"{base}/dashboard/alerts")
            expect(page).to_have_url(f"{base}/dashboard/login?next=%2Fdashboard%2Falerts")
            expect(page.get_by_role("heading", name="登录缺陷告警看板")).to_be_visible()
            page.fill("#api_key", "fbk_wrong_" + "x" * 20)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("alert")).to_contain_text("API 密钥无效")
            page.fill("#api_key", read_key)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(f"{base}/dashboard/alerts")
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["fbdash_key"]["httpOnly"] and cookies["fbdash_key"]["sameSite"] == "Strict"

            # the list: the seeded alerts, with counts
            row = page.locator("tr", has_text="SKU-KETTLE-1702")
            expect(row).to_contain_text("安全隐患")
            expect(row).to_contain_text("严重")
            expect(row).to_contain_text("新告警")
            expect(page.locator("table.alerts tbody tr")).to_have_count(3)
            page.screenshot(path=str(artifacts / "dashboard_list.png"), full_page=True)

            # filters
            page.select_option("select[name=severity]", "major")
            page.get_by_role("button", name="筛选").click()
            expect(page.locator("table.alerts tbody tr")).to_have_count(1)
            expect(page.locator("table.alerts")).to_contain_text("SKU-PHONE-88")
            page.get_by_role("link", name="清除筛选").click()
            expect(page.locator("table.alerts tbody tr")).to_have_count(3)

            # open the alert and acknowledge it
            page.get_by_role("link", name="安全隐患").click()
            expect(page).to_have_url(f"{base}/dashboard/alerts/{alert_id}")
            expect(page.locator("#alert-status")).to_have_text("新告警")
            expect(page.locator("svg.trend")).to_be_visible()
            expect(page.locator("ol.examples")).to_contain_text("[手机号]")
            assert "13812345678" not in page.content()
            page.fill("#note", "已通知品控排查批次")
            page.get_by_role("button", name="确认", exact=True).click()
            expect(page).to_have_url(f"{base}/dashboard/alerts/{alert_id}?msg=acknowledged")
            page.reload()
            expect(page.locator("#alert-status")).to_have_text("已确认")
            expect(page.locator("table.history")).to_contain_text("已通知品控排查批次")
            expect(page.get_by_role("button", name="确认", exact=True)).to_have_count(0)
            expect(page.get_by_role("button", name="解决", exact=True)).to_be_visible()
            page.screenshot(path=str(artifacts / "dashboard_alert.png"), full_page=True)

            # the CSS came from our server and applied (badge colours)
            bg = page.locator("#alert-status").evaluate("e => getComputedStyle(e).backgroundColor")
            assert bg == "rgb(237, 233, 254)", bg
            context.close()
        finally:
            browser.close()

    alert = store.get(alert_id)
    assert alert.status == "acknowledged" and alert.status_by.startswith("品控小组")
    assert [h.status for h in store.history(alert_id)] == ["acknowledged"]
    assert outside == [], f"the page fetched from outside our server: {outside}"
    for name in ("dashboard_list.png", "dashboard_alert.png"):
        assert (artifacts / name).stat().st_size > 10_000
