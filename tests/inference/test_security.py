"""API keys, scopes, revocation and per-key rate limits."""

import pytest
from fastapi.testclient import TestClient

from inference.app import create_app
from inference.auth import KeyStore, hash_key, parse_key_id
from inference.ratelimit import RateLimiter
from inference.storage.engine import Database

ITEM = {"items": [{"id": "1", "text": "快递太慢了"}]}


@pytest.fixture(scope="module")
def app_client(trained, tmp_path_factory):
    settings, _ = trained
    db = tmp_path_factory.mktemp("sec") / "feedback.db"
    settings = settings.model_copy(update={"database_url": f"sqlite:///{db}", "model_reload_interval_s": 0})
    with TestClient(create_app(settings)) as c:
        yield c


def _key(client, *scopes, rate=None):
    return client.app.state.services.keys.create("t", list(scopes), rate)[0]


def _auth(key):
    return {"Authorization": f"Bearer {key}"}


def test_missing_key_is_401_with_challenge(app_client):
    r = app_client.post("/v1/classify", json=ITEM)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", [
    {"Authorization": "Bearer fbk_nope_nope"}, {"Authorization": "Bearer garbage"},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"X-API-Key": "fbk_x_y"},
])
def test_wrong_keys_are_401(app_client, header):
    assert app_client.post("/v1/classify", json=ITEM, headers=header).status_code == 401


def test_forged_secret_for_a_real_key_id_is_401(app_client):
    key = _key(app_client, "classify")
    forged = key[: key.rindex("_") + 1] + "x" * 32
    assert app_client.post("/v1/classify", json=ITEM, headers=_auth(forged)).status_code == 401


def test_scopes(app_client):
    reader, classifier, admin = _key(app_client, "read"), _key(app_client, "classify"), _key(app_client, "admin")
    r = app_client.post("/v1/classify", json=ITEM, headers=_auth(reader))
    assert r.status_code == 403 and "classify" in r.json()["detail"]
    assert app_client.post("/v1/classify", json=ITEM, headers=_auth(classifier)).status_code == 200
    assert app_client.post("/v1/classify", json=ITEM, headers={"X-API-Key": classifier}).status_code == 200
    assert app_client.get("/v1/classifications", headers=_auth(classifier)).status_code == 403
    assert app_client.get("/v1/classifications", headers=_auth(reader)).status_code == 200
    assert app_client.post("/v1/admin/reload", headers=_auth(reader)).status_code == 403
    for path in ("/v1/classifications",):
        assert app_client.get(path, headers=_auth(admin)).status_code == 200
    assert app_client.post("/v1/classify", json=ITEM, headers=_auth(admin)).status_code == 200
    assert app_client.post("/v1/admin/reload", headers=_auth(admin)).json()["model_version"] == "1"


def test_revoked_key_is_refused(app_client):
    keys = app_client.app.state.services.keys
    key = _key(app_client, "classify")
    assert app_client.post("/v1/classify", json=ITEM, headers=_auth(key)).status_code == 200
    assert keys.revoke(parse_key_id(key))
    assert app_client.post("/v1/classify", json=ITEM, headers=_auth(key)).status_code == 401
    assert not keys.revoke(parse_key_id(key))


def test_rate_limit_is_429_with_retry_after_per_key(app_client):
    slow, other = _key(app_client, "classify", rate=2), _key(app_client, "classify")
    codes = [app_client.post("/v1/classify", json=ITEM, headers=_auth(slow)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = app_client.post("/v1/classify", json=ITEM, headers=_auth(slow))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert app_client.post("/v1/classify", json=ITEM, headers=_auth(other)).status_code == 200


def test_keys_are_stored_hashed(tmp_path):
    store = KeyStore(Database(f"sqlite:///{tmp_path / 'k.db'}"))
    key, row = store.create("zendesk", ["classify", "read"])
    assert row.key_hash == hash_key(key) and key not in row.key_hash
    raw = (tmp_path / "k.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("k.db-wal"))
    assert key.split("_", 2)[2].encode() not in raw
    assert store.authenticate(key).scopes == frozenset({"classify", "read"})
    with pytest.raises(ValueError):
        store.create("x", ["superuser"])


def test_cached_authentication_never_reads_the_database(tmp_path, monkeypatch):
    """The async API asks the cache first; only a miss or an expired entry needs the (blocking) lookup."""
    from inference import auth

    store = KeyStore(Database(f"sqlite:///{tmp_path / 'k.db'}"))
    key, _row = store.create("rt", ["classify"])
    assert store.authenticate_cached(key) is auth.NEEDS_LOOKUP  # never looked up yet
    assert store.authenticate(key).key_id == key.split("_")[1]
    monkeypatch.setattr(store.db, "session", lambda: pytest.fail("a cached check read the database"))
    assert store.authenticate_cached(key).scopes == frozenset({"classify"})
    assert store.authenticate_cached(key[:-1] + ("x" if key[-1] != "x" else "y")) is None  # wrong secret
    assert store.authenticate_cached("not-a-key") is None
    now = auth.time.monotonic()
    monkeypatch.setattr(auth.time, "monotonic", lambda: now + auth.CACHE_SECONDS + 1)
    assert store.authenticate_cached(key) is auth.NEEDS_LOOKUP  # expired: revocations are seen


def test_key_lookups_run_off_the_event_loop(app_client, monkeypatch):
    """A cache miss reads the key store in a worker thread, so one slow lookup cannot stall other requests."""
    import threading

    from inference import auth

    services = app_client.app.state.services
    key, _ = services.keys.create("loop-check", ["classify"])
    threads = []
    real = auth.KeyStore.authenticate

    def spy(self, presented):
        threads.append(threading.current_thread().name)
        return real(self, presented)

    monkeypatch.setattr(auth.KeyStore, "authenticate", spy)
    for _ in range(2):
        assert app_client.post("/v1/classify", json=ITEM, headers=_auth(key)).status_code == 200
    assert len(threads) == 1  # the second request was answered from the cache
    loop_thread = app_client.portal.call(lambda: threading.current_thread().name)  # the app's event loop
    assert threads[0] != loop_thread


def test_token_bucket_refills():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(1.0)
    now[0] = 1.0
    assert limiter.acquire("k") == 0.0
