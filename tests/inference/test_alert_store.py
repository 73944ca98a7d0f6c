"""AlertStore: one open alert per product × key, status workflow, outbox events once per window."""

import pandas as pd
import pytest
from sqlalchemy import select

from inference.alerting import SpikeDetection
from inference.alerting.store import AlertNotFound, AlertStore, InvalidTransition, alert_id_for
from inference.storage.engine import Database
from inference.storage.tables import DefectAlert, OutboxEvent
from tests.conftest import make_settings

WEEK = pd.Timedelta(days=7)
W0 = pd.Timestamp("2026-03-02")


def detection(week: int = 6, count: int = 30, severity: str = "major", product: str = "SKU-1",
              key: str = "3", **changes) -> SpikeDetection:
    start = W0 + week * WEEK
    series = tuple((W0 + i * WEEK, 4) for i in range(week)) + ((start, count),)
    values = dict(product_id=product, key=key, window_start=start, window_end=start + WEEK, count=count,
                  baseline_mean=4.0, ratio=count / 4.0, p_value=1e-9, z=9.0, severity=severity, is_new=False,
                  is_safety=False, series=series)
    values.update(changes)
    return SpikeDetection(**values)


@pytest.fixture
def make_store(tmp_path):
    def make(connector: str | None = None) -> AlertStore:
        settings = make_settings(tmp_path, ticketing_connector=connector)
        return AlertStore(Database(settings.database_url), settings)

    return make


def _rows(store, model):
    with store.db.session() as s:
        return list(s.scalars(select(model)))


def test_repeated_detection_updates_the_open_alert(make_store):
    store = make_store()
    [first] = store.record([detection(6, 30, "minor")], key_kind="topic", titles={"3": "屏幕、闪烁"},
                           keywords={"3": ["屏幕", "闪烁"]}, examples={("SKU-1", "3"): ["屏幕一直闪"]})
    assert first.action == "created" and first.alert_id == alert_id_for("SKU-1", "topic", "3", W0 + 6 * WEEK)
    [again] = store.record([detection(6, 31, "minor")], key_kind="topic")  # same window, cron re-run
    assert again.action == "refreshed" and again.alert_id == first.alert_id
    [later] = store.record([detection(7, 25, "major")], key_kind="topic", examples={("SKU-1", "3"): ["屏幕坏点"]})
    assert later.action == "updated" and later.alert_id == first.alert_id

    [alert] = _rows(store, DefectAlert)
    assert alert.count == 25 and alert.severity == "major" and alert.detections == 2
    assert pd.Timestamp(alert.window_start) == W0 + 7 * WEEK
    assert alert.title == "屏幕、闪烁" and alert.keywords == ["屏幕", "闪烁"]
    assert alert.examples == ["屏幕坏点", "屏幕一直闪"]
    assert [c for _, c in alert.trend] == [4] * 7 + [25]  # the newest detection's series wins per window
    # severity never goes down
    store.record([detection(8, 22, "minor")], key_kind="topic")
    assert store.get(alert.id).severity == "major"
    # other products, keys and key kinds are other alerts
    store.record([detection(8, product="SKU-2"), detection(8, key="4")], key_kind="topic")
    store.record([detection(8, key="3")], key_kind="issue_type")
    assert len(_rows(store, DefectAlert)) == 4


def test_resolved_alert_then_new_spike_creates_a_new_alert(make_store):
    store = make_store()
    [a] = store.record([detection(6)], key_kind="issue_type")
    store.set_status(a.alert_id, "resolved", by="qa")
    [same] = store.record([detection(6)], key_kind="issue_type")  # same window again: not a new spike
    assert same.action == "skipped" and same.alert_id == a.alert_id
    [b] = store.record([detection(9)], key_kind="issue_type")
    assert b.action == "created" and b.alert_id != a.alert_id and b.status == "new"
    assert {x.status for x in _rows(store, DefectAlert)} == {"resolved", "new"}
    [c] = store.record([detection(10)], key_kind="issue_type")
    assert c.alert_id == b.alert_id and c.action == "updated"


def test_status_transitions_and_history(make_store):
    store = make_store()
    [a] = store.record([detection()], key_kind="topic")
    with pytest.raises(InvalidTransition):
        store.set_status(a.alert_id, "new", by="x")
    store.set_status(a.alert_id, "acknowledged", by="张三", note="排查中")
    with pytest.raises(InvalidTransition):
        store.set_status(a.alert_id, "acknowledged", by="x")
    with pytest.raises(InvalidTransition):
        store.set_status(a.alert_id, "new", by="x")
    alert = store.set_status(a.alert_id, "resolved", by="李四")
    assert alert.status == "resolved" and alert.status_by == "李四"
    for target in ("new", "acknowledged", "resolved"):
        with pytest.raises(InvalidTransition):
            store.set_status(a.alert_id, target, by="x")
    with pytest.raises(AlertNotFound):
        store.set_status("nope", "resolved", by="x")
    hist = store.history(a.alert_id)
    assert [(h.status, h.changed_by, h.note) for h in hist] == [("acknowledged", "张三", "排查中"),
                                                                ("resolved", "李四", None)]
    # new → resolved directly is allowed
    [b] = store.record([detection(key="9")], key_kind="topic")
    assert store.set_status(b.alert_id, "resolved", by="x").status == "resolved"


def test_list_filters_and_counts(make_store):
    store = make_store()
    store.record([detection(severity="critical", product="P1"), detection(key="5", severity="minor", product="P2")],
                 key_kind="topic")
    [a] = store.list(product="P1")
    store.set_status(a.id, "acknowledged", by="x")
    assert [x.product_id for x in store.list(status="acknowledged")] == ["P1"]
    assert [x.product_id for x in store.list(severity="minor")] == ["P2"]
    assert store.list(product="P3") == [] and len(store.list(limit=1)) == 1
    counts = store.counts()
    assert counts["status"] == {"new": 1, "acknowledged": 1, "resolved": 0}
    assert counts["severity"]["critical"] == 1 and store.products() == ["P1", "P2"]


def test_outbox_event_once_per_window_with_a_connector(make_store):
    store = make_store("webhook")
    [a] = store.record([detection(6)], key_kind="topic", keywords={"3": ["屏幕"]})
    assert a.event_enqueued
    [again] = store.record([detection(6, count=33)], key_kind="topic")
    assert not again.event_enqueued
    [later] = store.record([detection(7)], key_kind="topic")
    assert later.event_enqueued
    events = _rows(store, OutboxEvent)
    assert len(events) == 2
    assert {e.subject_id for e in events} == {a.alert_id} and {e.kind for e in events} == {"defect_alert"}
    assert [e.event_key for e in events] == [f"alert:{a.alert_id}:{(W0 + 6 * WEEK).isoformat()}+00:00",
                                             f"alert:{a.alert_id}:{(W0 + 7 * WEEK).isoformat()}+00:00"]
    payload = events[0].payload
    assert payload["alert_id"] == a.alert_id and payload["topic_id"] == "topic:3"
    assert payload["keywords"] == ["屏幕"] and payload["dashboard_url"].endswith(f"/dashboard/alerts/{a.alert_id}")
    from inference.outbox import _event_from_payload

    assert _event_from_payload("defect_alert", payload).count == 30  # the dispatcher can rebuild it


def test_no_outbox_event_without_a_connector(make_store):
    store = make_store(None)
    [a] = store.record([detection(6)], key_kind="topic")
    store.record([detection(7)], key_kind="topic")
    assert not a.event_enqueued and _rows(store, OutboxEvent) == []


def test_examples_are_masked_and_capped_and_infinite_ratio_is_stored_finite(make_store):
    store = make_store("webhook")
    texts = [f"第{i}次投诉，联系我13812345678，电池鼓包" for i in range(8)] + ["收件人：王小明 电池鼓包"]
    [a] = store.record([detection(ratio=float("inf"), baseline_mean=0.0, is_new=True)], key_kind="topic",
                       examples={("SKU-1", "3"): texts})
    alert = store.get(a.alert_id)
    assert len(alert.examples) == 5
    assert all("13812345678" not in x and "[手机号]" in x for x in alert.examples)
    assert alert.ratio == 999.0 and alert.is_new_topic
    [event] = _rows(store, OutboxEvent)
    assert all("13812345678" not in x for x in event.payload["examples"])
    store.record([detection(7)], key_kind="topic", examples={("SKU-1", "3"): ["收件人：王小明 电池鼓包"]})
    assert all("王小明" not in x for x in store.get(a.alert_id).examples)


def test_list_orders_open_first_then_severity(make_store):
    store = make_store()
    store.record([detection(key="a", severity="minor")], key_kind="topic")
    store.record([detection(key="b", severity="critical")], key_kind="topic")
    store.record([detection(key="c", severity="major")], key_kind="topic")
    store.record([detection(key="d", severity="critical")], key_kind="topic")
    [d] = [a for a in store.list() if a.key == "d"]
    store.set_status(d.id, "resolved", by="x")
    assert [a.key for a in store.list()] == ["b", "c", "a", "d"]
