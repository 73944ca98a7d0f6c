"""Hot model reload: when @champion moves, the API serves the new version without a restart and
without failing requests in flight."""

import threading
import time

import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from inference.app import create_app
from training.tracking import use_store

BODY = {"items": [{"id": "1", "text": "快递太慢了，一个星期还没到"}]}


@pytest.fixture
def second_version(trained):
    """Register a copy of version 1 as a new version; restore @champion afterwards."""
    settings, _ = trained
    use_store(settings)
    client = MlflowClient()
    name = settings.registered_model_name
    mv = mlflow.register_model(f"models:/{name}/1", name)
    yield settings, str(mv.version)
    client.set_registered_model_alias(name, settings.champion_alias, "1")


def test_champion_move_is_picked_up_without_failing_requests(second_version, tmp_path):
    settings, new_version = second_version
    # three threads send as fast as they can for as long as the reload takes: no rate limit here, or a slow
    # (busy) machine turns the reload window into 429s that have nothing to do with reloading
    settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'f.db'}",
                                           "auth_enabled": False, "model_reload_interval_s": 0.2,
                                           "rate_limit_per_minute": 10**9, "rate_limit_burst": 10**9})
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").json()["model_version"] == "1"
        seen, failures, stop = set(), [], threading.Event()

        def hammer():
            while not stop.is_set():
                r = c.post("/v1/classify", json=BODY)
                if r.status_code != 200:
                    failures.append(r.status_code)
                else:
                    body = r.json()
                    seen.add(body["model_version"])
                    assert body["results"][0]["model_version"] == body["model_version"]

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        MlflowClient().set_registered_model_alias(settings.registered_model_name, settings.champion_alias,
                                                  new_version)
        deadline = time.monotonic() + 30
        while c.get("/readyz").json()["model_version"] != new_version and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert c.get("/readyz").json()["model_version"] == new_version
        assert failures == []
        assert seen == {"1", new_version}
        assert f'feedback_model_info{{version="{new_version}"}} 1.0' in c.get("/metrics").text
        assert c.post("/v1/classify", json=BODY).json()["model_version"] == new_version


def test_a_broken_new_champion_keeps_the_old_one_serving(trained, tmp_path):
    settings, _ = trained
    settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'f.db'}",
                                           "auth_enabled": False, "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        store = c.app.state.services.store
        original = store.champion_version
        store.champion_version = lambda: "999"  # a version that does not exist
        try:
            store.load()
        finally:
            store.champion_version = original
        assert store.error and c.get("/readyz").json()["model_version"] == "1"
        assert c.post("/v1/classify", json=BODY).status_code == 200
