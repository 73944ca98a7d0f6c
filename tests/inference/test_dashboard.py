"""The alert dashboard and the alert JSON API through TestClient: login, CSRF, pages, status changes."""

import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from inference.alerting import SpikeDetection
from inference.alerting.store import AlertStore
from inference.app import create_app
from inference.routers.dashboard import KEY_COOKIE, NONCE_COOKIE, trend_svg
from tests.conftest import make_settings, write_tiny_corpus

WEEK = pd.Timedelta(days=7)
W0 = pd.Timestamp("2026-03-02", tz="UTC")


def detection(product="SKU-KETTLE", key="safety_hazard", severity="critical", count=18, week=6, **kw):
    start = W0 + week * WEEK
    series = tuple((W0 + i * WEEK, 2 + i % 2) for i in range(week)) + ((start, count),)
    values = dict(product_id=product, key=key, window_start=start, window_end=start + WEEK, count=count,
                  baseline_mean=2.5, ratio=count / 2.5, p_value=3.2e-9, z=8.0, severity=severity, is_new=False,
                  is_safety=key == "safety_hazard", series=series)
    values.update(kw)
    return SpikeDetection(**values)


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    write_tiny_corpus(root / "data", copies=1, with_real=False)
    settings = make_settings(root, model_reload_interval_s=0)
    with TestClient(create_app(settings), follow_redirects=False) as c:
        services = c.app.state.services
        read_key, _ = services.keys.create("品控小组", ["read"])
        classify_key, _ = services.keys.create("classifier", ["classify"])
        store = AlertStore(services.db, settings)
        store.record([detection()], key_kind="issue_type", titles={"safety_hazard": "安全隐患"},
                     keywords={"safety_hazard": ["冒烟", "底座", "焦糊味"]},
                     examples={("SKU-KETTLE", "safety_hazard"): ["烧水壶底座冒烟，电话13812345678", "有焦糊味"]})
        store.record([detection(product="SKU-PHONE", key="3", severity="minor", count=12)], key_kind="topic",
                     titles={"3": "屏幕、闪烁"}, keywords={"3": ["屏幕", "闪烁"]})
        yield c, store, read_key, classify_key


def login(client, key, follow=False):
    return client.post("/dashboard/login", data={"api_key": key, "next": "/dashboard/alerts"},
                       follow_redirects=follow)


@pytest.fixture
def browser(app_env):
    """A fresh cookie jar over the same app."""
    client, store, read_key, _ = app_env
    client.cookies.clear()
    assert login(client, read_key).status_code == 303
    yield client, store
    client.cookies.clear()


def _alert_id(store, product):
    [a] = store.list(product=product)
    return a.id


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_unauthenticated_pages_redirect_to_login(app_env):
    client, *_ = app_env
    client.cookies.clear()
    r = client.get("/dashboard/alerts?status=new")
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Falerts%3Fstatus%3Dnew"
    assert client.get("/dashboard/topics").status_code == 303
    assert client.get("/dashboard").headers["location"] == "/dashboard/alerts"
    page = client.get("/dashboard/login?next=/dashboard/alerts")
    assert page.status_code == 200 and "API 密钥" in page.text and "登录" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    # JSON-only clients get 401 instead of a redirect
    assert client.get("/dashboard/alerts", headers={"Accept": "application/json"}).status_code == 401


def test_login_flow_sets_strict_httponly_cookies(app_env):
    client, _, read_key, classify_key = app_env
    client.cookies.clear()
    bad = login(client, "fbk_nope_" + "x" * 20)
    assert bad.status_code == 401 and "无效" in bad.text and KEY_COOKIE not in client.cookies
    no_scope = login(client, classify_key)
    assert no_scope.status_code == 403 and "read 权限" in no_scope.text
    r = login(client, read_key)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/alerts"
    cookies = [h for k, h in r.headers.multi_items() if k == "set-cookie"]
    assert len(cookies) == 2
    for c in cookies:
        low = c.lower()
        assert "httponly" in low and "samesite=strict" in low and "path=/dashboard" in low
    page = client.get("/dashboard/alerts")
    assert page.status_code == 200 and "品控小组" in page.text
    # open redirects are refused
    client.cookies.clear()
    r = client.post("/dashboard/login", data={"api_key": read_key, "next": "//evil.example/x"})
    assert r.headers["location"] == "/dashboard/alerts"
    # logout needs the CSRF token and clears the cookies
    client.cookies.clear()
    login(client, read_key)
    token = _csrf(client.get("/dashboard/alerts").text)
    assert client.post("/dashboard/logout", data={"csrf": "0" * 64}).status_code == 403
    out = client.post("/dashboard/logout", data={"csrf": token})
    assert out.status_code == 303 and client.get("/dashboard/alerts").status_code == 303


def test_cross_origin_login_post_is_refused(app_env):
    client, _, read_key, _ = app_env
    client.cookies.clear()
    r = client.post("/dashboard/login", data={"api_key": read_key}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and KEY_COOKIE not in client.cookies


def test_list_page_with_filters_and_counts(browser):
    client, store = browser
    page = client.get("/dashboard/alerts")
    assert page.status_code == 200
    html = page.text
    for label in ("缺陷告警", "商品", "状态", "严重度", "新告警", "已确认", "已解决", "SKU-KETTLE", "SKU-PHONE",
                  "安全隐患", "屏幕、闪烁", "严重", "一般"):
        assert label in html, label
    only_kettle = client.get("/dashboard/alerts", params={"product": "SKU-KETTLE"}).text
    assert "安全隐患" in only_kettle and "屏幕、闪烁" not in only_kettle
    minor = client.get("/dashboard/alerts", params={"severity": "minor"}).text
    assert "屏幕、闪烁" in minor and "/dashboard/alerts/" + _alert_id(store, "SKU-KETTLE") not in minor
    resolved = client.get("/dashboard/alerts", params={"status": "resolved"}).text
    assert "没有符合条件的告警" in resolved
    junk = client.get("/dashboard/alerts", params={"status": "<script>", "product": "<b>x</b>"})
    assert junk.status_code == 200 and "<b>x</b>" not in junk.text


def test_detail_page_shows_numbers_chart_examples_and_buttons(browser):
    client, store = browser
    alert_id = _alert_id(store, "SKU-KETTLE")
    page = client.get(f"/dashboard/alerts/{alert_id}")
    assert page.status_code == 200
    html = page.text
    for label in ("概况", "本期投诉数", "基线均值", "增长倍数", "p 值", "关键词", "投诉示例（已脱敏）", "状态历史",
                  "冒烟", "焦糊味", "×7.2", "3.20e-09", "新告警", ">确认<", ">解决<"):
        assert label in html, label
    assert "<svg" in html and 'class="bar current"' in html and "基线 2.5" in html
    assert "13812345678" not in html and "[手机号]" in html
    assert client.get("/dashboard/alerts/al-does-not-exist").status_code == 404


def test_acknowledge_and_resolve_through_the_form(browser):
    client, store = browser
    alert_id = _alert_id(store, "SKU-PHONE")
    token = _csrf(client.get(f"/dashboard/alerts/{alert_id}").text)
    bad = client.post(f"/dashboard/alerts/{alert_id}/status", data={"status": "acknowledged", "csrf": "f" * 64})
    assert bad.status_code == 403 and store.get(alert_id).status == "new"
    missing = client.post(f"/dashboard/alerts/{alert_id}/status", data={"status": "acknowledged"})
    assert missing.status_code == 403

    r = client.post(f"/dashboard/alerts/{alert_id}/status",
                    data={"status": "acknowledged", "csrf": token, "note": "已通知品控"})
    assert r.status_code == 303 and r.headers["location"] == f"/dashboard/alerts/{alert_id}?msg=acknowledged"
    page = client.get(r.headers["location"]).text
    assert "已确认该告警" in page and 'id="alert-status">已确认' in page and "已通知品控" in page
    assert ">确认<" not in page and ">解决<" in page
    assert store.get(alert_id).status == "acknowledged"
    assert store.history(alert_id)[0].changed_by.startswith("品控小组")

    r = client.post(f"/dashboard/alerts/{alert_id}/status", data={"status": "resolved", "csrf": token})
    assert r.status_code == 303 and store.get(alert_id).status == "resolved"
    again = client.post(f"/dashboard/alerts/{alert_id}/status", data={"status": "acknowledged", "csrf": token})
    assert again.headers["location"].endswith("msg=invalid")
    assert client.post("/dashboard/alerts/al-missing/status",
                       data={"status": "resolved", "csrf": token}).status_code == 404


def test_header_key_works_without_cookie(app_env):
    client, store, read_key, classify_key = app_env
    client.cookies.clear()
    page = client.get("/dashboard/alerts", headers={"X-API-Key": read_key})
    assert page.status_code == 200 and "SKU-KETTLE" in page.text
    assert client.get("/dashboard/alerts", headers={"Authorization": f"Bearer {classify_key}"}).status_code == 403
    assert client.get("/dashboard/alerts", headers={"X-API-Key": "fbk_x_" + "y" * 20}).status_code == 401


def test_revoked_key_cookie_is_sent_back_to_login(app_env):
    client, _, _, _ = app_env
    services = client.app.state.services
    key, row = services.keys.create("temp", ["read"])
    client.cookies.clear()
    login(client, key)
    services.keys.revoke(row.id)
    r = client.get("/dashboard/alerts")
    assert r.status_code == 303 and "reason=expired" in r.headers["location"]
    client.cookies.clear()


def test_topics_page_without_a_topic_model(browser):
    client, _ = browser
    page = client.get("/dashboard/topics")
    assert page.status_code == 200 and "主题概览" in page.text and "暂无可用的主题模型" in page.text


def test_stylesheet_is_served_locally(app_env):
    client, *_ = app_env
    r = client.get("/dashboard/static/dashboard.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css") and ".badge" in r.text


# ---------------------------------------------------------------------------------------------- JSON API
def test_alert_api_auth(app_env):
    client, store, read_key, classify_key = app_env
    client.cookies.clear()
    assert client.get("/v1/alerts").status_code == 401
    assert client.get("/v1/alerts", headers={"X-API-Key": classify_key}).status_code == 403
    # the dashboard cookie does not authenticate the JSON API
    login(client, read_key)
    assert client.get("/v1/alerts").status_code == 401
    client.cookies.clear()
    alert_id = _alert_id(store, "SKU-KETTLE")
    assert client.post(f"/v1/alerts/{alert_id}/status", json={"status": "acknowledged"},
                       headers={"X-API-Key": classify_key}).status_code == 403


def test_alert_api_list_get_and_status(app_env):
    client, store, read_key, _ = app_env
    client.cookies.clear()
    h = {"Authorization": f"Bearer {read_key}"}
    body = client.get("/v1/alerts", headers=h, params={"product_id": "SKU-KETTLE"}).json()
    [item] = body["items"]
    assert item["severity"] == "critical" and item["key_kind"] == "issue_type" and item["trend"][-1][1] == 18
    assert body["counts"]["status"]["new"] + body["counts"]["status"]["acknowledged"] >= 0
    assert all("13812345678" not in x for x in item["examples"])
    assert client.get("/v1/alerts", headers=h, params={"status": "bogus"}).status_code == 422
    detail = client.get(f"/v1/alerts/{item['id']}", headers=h).json()
    assert detail["id"] == item["id"] and isinstance(detail["history"], list)
    assert client.get("/v1/alerts/al-nope", headers=h).status_code == 404

    # the browser tests may have moved it already; use a fresh alert
    [fresh] = store.record([detection(product="SKU-API", key="logistics", severity="major")], key_kind="issue_type")
    r = client.post(f"/v1/alerts/{fresh.alert_id}/status", headers=h, json={"status": "acknowledged", "note": "看"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["history"][0]["note"] == "看"
    assert client.post(f"/v1/alerts/{fresh.alert_id}/status", headers=h,
                       json={"status": "acknowledged"}).status_code == 409
    assert client.post(f"/v1/alerts/{fresh.alert_id}/status", headers=h, json={"status": "new"}).status_code == 422
    assert client.post("/v1/alerts/al-nope/status", headers=h, json={"status": "resolved"}).status_code == 404
    assert client.post(f"/v1/alerts/{fresh.alert_id}/status", headers=h,
                       json={"status": "resolved"}).json()["status"] == "resolved"


def test_trend_svg_handles_edge_cases():
    assert "暂无趋势数据" in trend_svg([])
    svg = trend_svg([["2026-03-02T00:00:00+00:00", 0], ["2026-03-09T00:00:00+00:00", 3]], None, 0.0)
    assert svg.count("<rect class=") == 2 and "基线" not in svg
    assert "&lt;" not in svg and "<script" not in svg


def test_nonce_cookie_name_is_distinct():
    assert KEY_COOKIE != NONCE_COOKIE


def test_topics_page_lists_the_champion_topics(app_env, monkeypatch):
    """A tiny feedback-topics champion (PCA + KMeans instead of UMAP + HDBSCAN for speed)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    import models.topics as topics
    from tests.models.topic_fixtures import ISSUE_OF_THEME, tiny_corpus
    from training.topics import fit_topics

    monkeypatch.setattr(topics.TopicModel, "_reducer", lambda self, n: PCA(5, random_state=self.seed))
    monkeypatch.setattr(topics.TopicModel, "_clusterer", lambda self: KMeans(3, n_init=10, random_state=self.seed))
    client, store, read_key, _ = app_env
    settings = client.app.state.services.settings
    texts, labels = tiny_corpus()
    fit_topics(settings, pd.DataFrame({"text": texts, "issue_types": [ISSUE_OF_THEME[x] for x in labels]}),
               min_topic_size=8, seed=3)
    client.app.state.dashboard_topics = None  # skip the one-minute re-check
    client.cookies.clear()
    page = client.get("/dashboard/topics", headers={"X-API-Key": read_key})
    assert page.status_code == 200, page.text
    html = page.text
    assert "3 个主题" in html and "版本 1" in html
    for word in ("屏幕", "电池", "快递", "商品质量", "安全隐患", "物流配送", "代表文本", "未关闭告警"):
        assert word in html, word
    assert html.count('class="sizebar"') == 3
