"""One Settings class: every knob kefu reads from the environment (prefix KEFU_)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kefu.environment import DEFAULT_TIMEZONE, PREFIX

DEV_SECRET = "dev-only-secret-change-me"


def default_data_dir() -> Path:
    """The folder that holds the embedded database and uploads when nothing else is set."""
    return Path(os.environ.get("KEFU_DATA_DIR", "data")).resolve()


class Settings(BaseSettings):
    """kefu's settings; each field's description is its help text (docs/settings.md lists them)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir, description="Folder for the SQLite database and uploads."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db. "
        "Empty: SQLite file kefu.db in the data folder.",
    )
    secret_key: str = Field(
        default=DEV_SECRET,
        description="Signs session cookies and CSRF tokens. Must be set outside development.",
    )
    env: str = Field(default="development", description="development or production.")
    default_timezone: str = Field(
        default=DEFAULT_TIMEZONE, description="Time zone of a shop that names none."
    )
    default_language: str = Field(
        default="zh-CN", description="UI language when the user chose none: zh-CN or en."
    )
    session_max_age_s: int = Field(default=12 * 3600, description="Seconds a login stays valid.")
    assets_dir: Path | None = Field(
        default=None,
        description="Folder of the npm packages served at /static/vendor "
        "(default: node_modules at the repository root).",
    )
    cookie_secure: bool = Field(
        default=False, description="Mark cookies Secure (set when served over HTTPS)."
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://host:port/0) through which several server processes share "
        "the live desk; empty: one process. Use PostgreSQL as the store with it.",
    )
    analytics_preload: bool = Field(
        default=False,
        description="Read the store into the diagnosis dashboard's snapshot when the server starts, so "
        "the first visit does not wait for it (kefu serve turns this on unless it is set).",
    )
    webhook_private_networks: bool = Field(
        default=False,
        description="Let webhooks go to loopback, private and link-local addresses (a connector on "
        "the same host or network). Off: a shop cannot make kefu call into the network it runs in.",
    )
    buyer_rate_per_s: float = Field(
        default=5.0, description="Messages a buyer may send per second, sustained."
    )
    buyer_burst: int = Field(default=20, description="Messages a buyer may send in a burst.")

    @field_validator("secret_key")
    @classmethod
    def _refuse_placeholder_in_production(cls, value: str, info) -> str:
        if info.data.get("env") == "production" and value == DEV_SECRET:
            raise ValueError("KEFU_SECRET_KEY must be set to a real secret when KEFU_ENV=production")
        return value

    def resolved_database_url(self) -> str:
        """The store URL: the explicit one, else the embedded SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'kefu.db'}"


@dataclass(frozen=True)
class SettingDoc:
    name: str
    default: str
    help: str


def list_settings() -> list[SettingDoc]:
    """Every setting as (env name, default, help), for the docs and the CLI."""
    docs = []
    for name, field in Settings.model_fields.items():
        default = "(computed)" if field.default_factory else repr(field.default)
        docs.append(SettingDoc(f"KEFU_{name.upper()}", default, field.description or ""))
    return docs


@lru_cache
def get_settings() -> Settings:
    return Settings()
