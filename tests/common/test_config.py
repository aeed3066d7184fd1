from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from common.config import DEFAULT_DATABASE_URL, Settings
from tests.fixtures.databases import TEST_JWT_SECRET


def build(**values: object) -> Settings:
    return Settings(_env_file=None, **{"jwt_secret": TEST_JWT_SECRET, **values})  # type: ignore[call-arg]


def test_defaults_run_on_an_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = build()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.startswith("sqlite+aiosqlite:///./var/")
    assert settings.store_timezone == "UTC"
    assert settings.database_read_url is None


@pytest.mark.parametrize("app_env", ["development", "test", "production"])
def test_no_jwt_secret_is_refused_in_every_environment(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="JWT_SECRET is not set"):
        Settings(_env_file=None, app_env=app_env)  # type: ignore[call-arg]


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_a_short_secret_is_refused(app_env: str) -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        build(app_env=app_env, jwt_secret="short")


def test_a_blank_secret_counts_as_not_set() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET is not set"):
        build(jwt_secret=" " * 40)


def test_a_real_secret_is_accepted() -> None:
    settings = build(app_env="production", jwt_secret="s" * 48)
    assert settings.jwt_secret.get_secret_value() == "s" * 48


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="IANA"):
        build(store_timezone="Mars/Olympus_Mons")


def test_environment_and_dotenv_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "STORE_TIMEZONE=Europe/Madrid\nCORS_ORIGINS=https://a.example, https://b.example\n"
        f"JWT_SECRET={TEST_JWT_SECRET}\n"
    )
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("DATABASE_READ_URL", "")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.store_timezone == "Europe/Madrid"
    assert settings.timezone.key == "Europe/Madrid"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.log_level == "DEBUG"
    assert settings.database_read_url is None


def test_pool_sizes_are_bounded() -> None:
    with pytest.raises(ValidationError):
        build(db_pool_size=0)


# The dashboard: the products API's public address, and CORS for the dashboard in development.


def test_development_lets_the_dashboard_call_the_products_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    monkeypatch.delenv("PRODUCTS_PUBLIC_URL", raising=False)
    settings = build(app_env="development")
    assert settings.cors_origins == ["http://127.0.0.1:8001", "http://localhost:8001"]
    assert settings.products_public_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("app_env", ["test", "production"])
def test_cors_stays_off_outside_development_until_configured(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    assert build(app_env=app_env).cors_origins == []


def test_configured_cors_origins_win_even_empty_in_development() -> None:
    assert build(app_env="development", cors_origins="").cors_origins == []
    chosen = build(app_env="development", cors_origins="https://admin.example")
    assert chosen.cors_origins == ["https://admin.example"]


def test_the_products_public_url_is_an_origin() -> None:
    assert build(products_public_url="https://api.example/").products_public_url == (
        "https://api.example"
    )
    for bad in ("api.example", "javascript:alert(1)", "https://api.example/v1", "http://a b"):
        with pytest.raises(ValidationError, match="products_public_url"):
            build(products_public_url=bad)
