from pathlib import Path

from models.settings import REPO_ROOT, Settings, get_settings


def test_defaults_point_inside_the_repo(monkeypatch):
    for var in ("FEEDBACK_TRACKING_URI", "FEEDBACK_ARTIFACT_ROOT", "FEEDBACK_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings(_env_file=None)
    assert s.tracking_uri == f"sqlite:///{REPO_ROOT / 'mlruns' / 'mlflow.db'}"
    assert Path(s.artifact_root).is_relative_to(REPO_ROOT / "mlruns")
    assert s.registered_model_name == "feedback-analyzer"
    assert s.champion_alias == "champion"
    assert s.champion_uri == "models:/feedback-analyzer@champion"
    assert s.database_url.startswith("sqlite:///")
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_env_vars_with_prefix_override(monkeypatch):
    monkeypatch.setenv("FEEDBACK_PORT", "9001")
    monkeypatch.setenv("FEEDBACK_CHAMPION_ALIAS", "staging")
    monkeypatch.setenv("PORT", "1")  # unprefixed variables are ignored
    s = Settings(_env_file=None)
    assert s.port == 9001
    assert s.champion_uri.endswith("@staging")


def test_get_settings_is_cached_and_clearable(monkeypatch):
    get_settings.cache_clear()
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("FEEDBACK_PORT", "9100")
    get_settings.cache_clear()
    assert get_settings().port == 9100
    get_settings.cache_clear()
