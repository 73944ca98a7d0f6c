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


def test_secrets_come_from_a_secrets_directory_and_never_print(tmp_path, monkeypatch):
    from models.settings import get_settings

    (tmp_path / "feedback_rt_token").write_text("1-14-abcdef-secret")
    monkeypatch.setenv("FEEDBACK_SECRETS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.rt_token.get_secret_value() == "1-14-abcdef-secret"
        assert "abcdef" not in repr(settings) and "abcdef" not in str(settings.model_dump())
    finally:
        get_settings.cache_clear()


def test_connectors_refuse_hosts_outside_the_allow_list():
    import pytest
    from pydantic import SecretStr

    from inference.ticketing.factory import make_connector
    from inference.ticketing.http import HostNotAllowed
    from models.settings import Settings

    settings = Settings(rt_url="http://evil.example.com/rt", rt_token=SecretStr("t"))
    with pytest.raises(HostNotAllowed):
        make_connector(settings, "rt")
