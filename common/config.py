"""Settings, read once from the environment and `.env`."""

from __future__ import annotations

import base64
import ipaddress
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/ecommerce.db"
# There is no built-in secret: a value in the source is public, and a token signed with it would
# be admin on any deployment that forgot to set its own. `./docker-manager.sh dev` generates one
# into var/ (mode 0600); every other start must set JWT_SECRET.
JWT_SECRET_MIN_LENGTH = 32
NO_SIGNING_KEY_MESSAGE = (
    "JWT_SECRET is not set: set it to at least 32 random characters (e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`), or run "
    "`./docker-manager.sh dev`, which generates one under var/"
)

# Where `./docker-manager.sh dev` serves the dashboard (the sales service's port).
DEVELOPMENT_DASHBOARD_ORIGINS = ("http://127.0.0.1:8001", "http://localhost:8001")

AppEnv = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Every knob of both services. Names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_env: AppEnv = "development"
    database_url: str = DEFAULT_DATABASE_URL
    database_read_url: str | None = None
    # Empty means "not set", refused below with a message that says what to do.
    jwt_secret: SecretStr = SecretStr("")
    store_timezone: str = "UTC"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: LogLevel = "INFO"
    log_json: bool = True

    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=20, ge=0, le=1000)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    db_pool_recycle: int = Field(default=1800, ge=1)
    db_connect_timeout: int = Field(default=5, ge=1, le=120)
    # Seconds a MySQL reply may take before the link counts as lost (503, the connection is
    # dropped): a database or network path that goes silent mid-query must not hold a request
    # forever. 0 waits as long as TCP does. Above InnoDB's lock wait (50 s by default), so a
    # statement waiting on a row lock ends in the server's 1205 (and a rerun), not here.
    db_read_timeout: float = Field(default=60.0, ge=0, le=3600)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Bounded retries of a unit of work that hit a deadlock or lock-wait timeout (on Galera,
    # also a certification failure between nodes: docs/scaling.md says how many to allow).
    db_retry_attempts: int = Field(default=5, ge=1, le=50)
    # Galera: `wsrep_sync_wait` for every connection (1 = a read first waits until this node
    # has applied what the cluster committed before it, so a client that wrote through one
    # node reads it back through another). 0 sends nothing (plain MySQL/MariaDB).
    db_wsrep_sync_wait: int = Field(default=0, ge=0, le=15)
    # Seconds `DATABASE_READ_URL`'s replica may trail its source before lists and reports read
    # the primary instead (so do a replica that stopped replicating or cannot be reached).
    read_replica_max_lag_seconds: float = Field(default=30.0, ge=0, le=86400)

    access_token_ttl_seconds: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    # Argon2id cost. The defaults are argon2-cffi's RFC 9106 "low memory" profile; only tests
    # lower them (hashing at 64 MiB per call would dominate the suite on a small machine).
    # Hashes made with other parameters are upgraded at the next successful login.
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_cost_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=4, ge=1, le=64)
    # --- identity hardening (common/identity/throttle.py says how the ceilings combine) ---
    # Failed sign-ins allowed per window: per (account, address) pair, per client address,
    # and per account from all addresses together (high: it locks the account for everyone).
    login_max_failures_per_pair: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=50, ge=1, le=100_000)
    login_max_failures_per_account: int = Field(default=100, ge=1, le=100_000)
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1, le=24 * 3600)
    # Registrations one client address may attempt per window (each costs an Argon2 hash).
    register_max_per_address: int = Field(default=10, ge=1, le=1_000_000)
    register_window_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # Argon2 operations one process runs at once (each holds its memory cost: 64 MiB by
    # default); the others wait for a slot without holding a worker thread or a connection.
    password_hash_max_concurrency: int = Field(default=2, ge=1, le=64)
    # IP addresses or networks of the reverse proxies whose X-Forwarded-For (and -Proto) is
    # believed, comma-separated; empty (the default): none, the peer address is the client's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [proxy.strip() for proxy in value.split(",") if proxy.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"TRUSTED_PROXIES: {proxy!r} is not an IP address or network (a proxy is "
                    "named by its address; `*` would let any client choose its own address)"
                ) from exc
        return value

    @model_validator(mode="after")
    def _no_wildcard_origin_with_credentials(self) -> Settings:
        # The services allow credentials (the bearer token) cross-origin; with `*` Starlette
        # reflects any origin, so every site could call the API as its signed-in visitor.
        if "*" in self.cors_origins:
            raise ValueError(
                "CORS_ORIGINS=* cannot be combined with credentials (the services allow them): "
                "list the dashboard's origins instead, e.g. CORS_ORIGINS=https://admin.example.com"
            )
        return self

    # --- end identity hardening ---
    # An Idempotency-Key is remembered this long; an in-flight claim older than the lease is
    # treated as abandoned (its request died before committing) and may be taken over.
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    idempotency_lease_seconds: int = Field(default=60, ge=5, le=3600)
    # Largest request body any route accepts, counted while it streams in (413 beyond it);
    # the catalog import has its own limit below.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # Largest catalog file `POST /products/import` accepts, counted while it streams in.
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # Rows after the header a catalog file may have (blank ones count: reading them costs too),
    # and columns a row may fill; beyond either the import is refused with 413 before writing.
    import_max_rows: int = Field(default=200_000, ge=1, le=10_000_000)
    import_max_columns: int = Field(default=100, ge=8, le=16_384)
    # How long a new order holds its stock while it waits to be paid.
    order_reservation_ttl: int = Field(default=900, ge=1, le=86400)
    # The expiry sweeper of the sales service: seconds between passes (0 = off) and rows per
    # transaction.
    sweep_interval_seconds: float = Field(default=30.0, ge=0, le=3600)
    sweep_batch_size: int = Field(default=500, ge=1, le=10_000)
    # The sales service's ledger watch: seconds between audits of every cached level and
    # balance against its ledger, exported as `ledger_drift_rows` (0 = off).
    ledger_audit_interval_seconds: float = Field(default=300.0, ge=0, le=86400)
    # Orders one customer may have waiting to be paid at once (each one holds stock).
    order_max_pending_per_customer: int = Field(default=3, ge=1, le=1000)
    # The Standard Webhooks secret (`whsec_` + base64, as providers hand it out) that signs
    # payment callbacks; unset, the `gateway` provider is off and only `manual` top-ups work.
    payment_callback_secret: SecretStr | None = None
    # How long a customer's top-up waits for its payment before it expires uncredited.
    payment_top_up_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # The dashboard (sales service, /dashboard/) calls the products API on its own origin:
    # this address, as the manager's browser reaches it. In development CORS_ORIGINS, when
    # unset, lets the dashboard's own origins in (`_dashboard_cors_in_development`).
    products_public_url: str = Field(
        default="http://127.0.0.1:8000", pattern=r"^https?://[^/?#\s]+/?$"
    )

    # Events (docs/events.md). The dispatcher of every replica: seconds between passes
    # (0 = off) and rows claimed per pass.
    event_dispatch_interval_seconds: float = Field(default=1.0, ge=0, le=3600)
    event_dispatch_batch_size: int = Field(default=100, ge=1, le=10_000)
    # Days an event stays in the log once it is delivered everywhere (the sweeper deletes it).
    event_retention_days: int = Field(default=30, ge=1, le=3650)
    # A NATS server (`nats://host:4222`): every event is also published to JetStream.
    event_broker_url: str | None = None
    # Webhook targets on private, loopback or link-local addresses are refused unless true.
    webhook_allow_private: bool = False
    # Seconds a webhook delivery may take; a redirect is not followed.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The first retry's delay; each next one doubles (with jitter), up to an hour apart.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    # A delivery still failing after this long fails for good, and a subscription that has
    # failed without a success for this long is disabled (a `webhook.disabled` event).
    webhook_give_up_seconds: int = Field(default=24 * 3600, ge=1, le=7 * 24 * 3600)

    @field_validator("database_read_url", "event_broker_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("payment_callback_secret", mode="before")
    @classmethod
    def _blank_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("payment_callback_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        encoded = value.get_secret_value().removeprefix("whsec_")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except ValueError as exc:
            raise ValueError("PAYMENT_CALLBACK_SECRET must be base64 (whsec_...)") from exc
        if len(key) < 24:
            raise ValueError("PAYMENT_CALLBACK_SECRET must decode to at least 24 bytes")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # "https://a.example, https://b.example" reads better in an env file than JSON.
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("store_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_missing_or_weak_secret(self) -> Settings:
        # Every environment: `development` is the default, so a deployment that forgot
        # APP_ENV=production must not get a weaker rule.
        secret = self.jwt_secret.get_secret_value()
        if not secret.strip():
            raise ValueError(NO_SIGNING_KEY_MESSAGE)
        if len(secret) < JWT_SECRET_MIN_LENGTH:
            raise ValueError(f"JWT_SECRET must be at least {JWT_SECRET_MIN_LENGTH} characters")
        return self

    @model_validator(mode="after")
    def _argon2_memory_covers_lanes(self) -> Settings:
        # Argon2 needs at least 8 KiB per lane; refuse at start-up instead of at first login.
        if self.password_hash_memory_cost_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                "PASSWORD_HASH_MEMORY_COST_KIB must be at least 8 * PASSWORD_HASH_PARALLELISM"
            )
        return self

    @model_validator(mode="after")
    def _dashboard_cors_in_development(self) -> Settings:
        # `./docker-manager.sh dev` serves the dashboard on the sales port; its browser calls
        # the products port, another origin. Elsewhere CORS stays off until configured.
        if self.app_env == "development" and "cors_origins" not in self.model_fields_set:
            self.cors_origins = list(DEVELOPMENT_DASHBOARD_ORIGINS)
        self.products_public_url = self.products_public_url.rstrip("/")
        return self

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.store_timezone)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    return Settings()
