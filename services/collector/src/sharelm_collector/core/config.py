"""Service settings, read from the environment (prefix `SHARELM_COLLECTOR_`, plus plain `DATABASE_URL`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHARELM_COLLECTOR_", extra="ignore")

    # SQLite (WAL) is the zero-setup default; production sets DATABASE_URL=postgresql://...
    database_url: str = Field(
        default="sqlite:///./sharelm-collector.db",
        validation_alias=AliasChoices("DATABASE_URL", "SHARELM_COLLECTOR_DATABASE_URL"),
    )
    # The export token; export is disabled (403) while it is unset.
    operator_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SHARELM_OPERATOR_TOKEN", "SHARELM_COLLECTOR_OPERATOR_TOKEN"),
    )

    host: str = "127.0.0.1"
    port: int = 8000
    # uvicorn worker processes; rate limits are split between them (each enforces its share).
    workers: int = Field(default=2, ge=1, le=64)

    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # A body refused for its size is still read (and dropped) up to this many bytes before the 413, so that
    # clients which send the whole body before reading (urllib, http.client) can read the answer.
    drain_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    drain_timeout_s: float = Field(default=10.0, ge=0)
    max_batch: int = Field(default=100, ge=1)
    # Requests per minute (token bucket, burst = the minute's allowance); 0 disables the limit.
    rate_limit_per_ip: int = Field(default=1200, ge=0)
    rate_limit_per_contributor: int = Field(default=600, ge=0)
    # Contributor creation is the cheapest thing to abuse: its own, tighter per-IP limit.
    rate_limit_signups_per_ip: int = Field(default=30, ge=0)
    # The operator routes (export): their own per-IP limit.
    rate_limit_operator_per_ip: int = Field(default=30, ge=0)
    # Failed authentications (unknown contributor token, wrong operator token) per minute, per client address
    # and per credential (the token presented; all wrong operator tokens count as one credential). Once spent,
    # every authenticated request from that address (or with that credential) is 429 until it refills.
    rate_limit_auth_failures_per_ip: int = Field(default=30, ge=0)
    rate_limit_auth_failures_per_credential: int = Field(default=10, ge=0)

    # Proxies whose X-Forwarded-For is believed (the per-IP limits key on the client address it gives).
    # Empty (the default): none, the peer address is the client, so nobody can pick their own address.
    forwarded_allow_ips: str = ""
    # Cross-origin reads are allowed on the public plugin's upload route only (browser extensions post from
    # chrome-extension:// origins); no other route answers CORS.
    cors_origins: list[str] = ["*"]
    # FULL: an acknowledged commit survives power loss too, not only a crash of the server process.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    sqlite_busy_timeout_ms: int = 30_000
    # Database connections per worker process (PostgreSQL); keep workers * pool_size under max_connections.
    pool_size: int = Field(default=16, ge=1)
    # PostgreSQL: the bound on connecting, on each statement (server side) and on each wait for an answer
    # (client side, so that a frozen or unreachable server costs this much, then a 503), and on waiting for
    # a pooled connection.
    db_timeout_s: float = Field(default=5.0, gt=0)
    # SQLite: /readyz reports "disk full" when the database's file system has less free space than this.
    min_free_disk_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    export_chunk: int = Field(default=500, ge=1)
    # PostgreSQL: anonymous plugin uploads (POST /api/endpoint) run on psycopg's async driver in the event
    # loop, their new rows grouped into one INSERT and one COMMIT (core.groupcommit), at most this many a
    # group. Off: every upload runs on the sync path in the thread pool, one transaction each.
    async_path: bool = True
    group_commit_max: int = Field(default=256, ge=1)

    @field_validator("database_url")
    @classmethod
    def _psycopg3_driver(cls, url: str) -> str:
        """`postgresql://` and `postgres://` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
