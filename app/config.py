"""Settings: defaults here, then ``instance/config.py``, then the environment.

The environment wins so a deployment (or a test) can override anything without editing
files; a ``.env`` file in the working directory is read into the environment first.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dotenv import load_dotenv

if TYPE_CHECKING:
    from flask import Config as FlaskConfig
    from flask import Flask

# Production refuses a shorter SECRET_KEY (256 bits, if every byte were random).
MIN_SECRET_KEY_BYTES = 32

# Settings read from the environment, with the type each is converted to.
ENV_SETTINGS: dict[str, type] = {
    "DECANT_ENV": str,
    "JOBS_IN_THREAD": bool,
    "SECRET_KEY": str,
    "ENCRYPTION_KEYS": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "PUBLIC_BASE_URL": str,
    "CHANNELS": str,
    "EMAIL_PROVIDER": str,
    "SENDGRID_API_KEY": str,
    "SENDGRID_BASE_URL": str,
    "SENDGRID_WEBHOOK_PUBLIC_KEY": str,
    "RESEND_API_KEY": str,
    "RESEND_BASE_URL": str,
    "RESEND_WEBHOOK_SECRET": str,
    "AWS_REGION": str,
    "AWS_ACCESS_KEY_ID": str,
    "AWS_SECRET_ACCESS_KEY": str,
    "SES_ENDPOINT_URL": str,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "SMTP_USERNAME": str,
    "SMTP_PASSWORD": str,
    "SMTP_STARTTLS": bool,
    "FROM_EMAIL": str,
    "SMS_PROVIDER": str,
    "TWILIO_ACCOUNT_SID": str,
    "TWILIO_AUTH_TOKEN": str,
    "TWILIO_PHONE_NUMBER": str,
    "TWILIO_MESSAGING_SERVICE_SID": str,
    "TWILIO_BASE_URL": str,
    "MAILCHIMP_CLIENT_ID": str,
    "MAILCHIMP_CLIENT_SECRET": str,
    "MAILCHIMP_BASE_URL": str,
    "LOGIN_RATE_LIMIT": str,
    "RATELIMIT_STORAGE_URI": str,
    "MAX_CONTENT_LENGTH": int,
    "PASSWORD_HASH_METHOD": str,
    "SESSION_COOKIE_SECURE": bool,
    "DEFAULT_PHONE_REGION": str,
    "TRUSTED_PROXIES": int,
    "FETCH_PRIVATE_ADDRESSES": bool,
    "SPAMASSASSIN_COMMAND": str,
    "MACHINE_CLICK_MIN_SECONDS": float,
    "MACHINE_BURST_SECONDS": float,
    "MACHINE_BURST_LINKS": int,
    "MACHINE_SCANNER_NETWORKS": str,
    "AB_MIN_SAMPLE": int,
    "AB_THRESHOLD": float,
    "ATTRIBUTION_EMAIL_CLICK_DAYS": float,
    "ATTRIBUTION_EMAIL_OPEN_DAYS": float,
    "ATTRIBUTION_SMS_CLICK_DAYS": float,
    "ATTRIBUTION_SMS_REPLY_DAYS": float,
    "TRACKING_UTM": bool,
    "TRACKING_UTM_SOURCE": str,
    "ENGAGEMENT_WEIGHTS": str,
    "ENGAGEMENT_HALF_LIFE_DAYS": float,
    "ENGAGEMENT_ENGAGED_MIN": float,
    "ENGAGEMENT_RESCORE_SECONDS": int,
    "SUNSET_MIN_EMAILS": int,
    "SUNSET_DAYS": float,
}


# Channel settings not yet declared as :class:`Setting` are read from the environment by
# prefix, typed like their default (decision 22); a declared setting needs no prefix here.
CHANNEL_PREFIXES = (
    "EMAIL_",
    "SENDGRID_",
    "RESEND_",
    "SES_",
    "SMTP_",
    "SMS_",
    "TWILIO_",
    "MAILCHIMP_",
    "LIST_",
    "CAMPAIGN_",
    "TRACKING_",
    "PROVIDER_",
    "PERIODIC_",
    "JOB_",
)


class Defaults:
    DECANT_ENV = "production"
    SECRET_KEY: str | None = None
    ENCRYPTION_KEYS: str | None = None
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    CHANNELS = "all"
    EMAIL_PROVIDER: str | None = None
    SMS_PROVIDER: str | None = None
    FROM_EMAIL = "Decant <marketing@example.com>"
    SENDGRID_BASE_URL = "https://api.sendgrid.com"
    RESEND_BASE_URL = "https://api.resend.com"
    TWILIO_BASE_URL = "https://api.twilio.com"
    AWS_REGION = "us-east-1"
    SMTP_PORT = 587
    SMTP_STARTTLS = True
    LOGIN_RATE_LIMIT = "10 per minute"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    PASSWORD_HASH_METHOD = "scrypt"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SESSION_COOKIE_SECURE: bool | None = None  # None: secure in production
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_CHECK_DEFAULT = False  # app.auth.csrf decides which requests need a token
    WTF_CSRF_TIME_LIMIT = None
    BOOTSTRAP_SERVE_LOCAL = True
    JOB_TIMEOUT = 600
    PERIODIC_TICK_SECONDS = 15
    #: Without Redis, run background jobs in a worker thread of the app (None: yes, except
    #: in tests, which run them inline to stay deterministic).
    JOBS_IN_THREAD: bool | None = None
    PROVIDER_TIMEOUT = 10.0
    CAMPAIGN_JOB_SECONDS = 120
    #: Batch jobs a campaign runs at once on RQ workers (each claims its own batches);
    #: more than the workers serving the ``campaigns`` queue only wait their turn.
    CAMPAIGN_SEND_JOBS = 2
    CAMPAIGN_STALE_SECONDS = 600
    CAMPAIGN_WATCHDOG_SECONDS = 60
    DEV_OUTBOX_LIMIT = 500
    DEFAULT_PHONE_REGION = "US"
    TRUSTED_PROXIES = 0  # reverse proxies in front (X-Forwarded-For/-Proto/-Host trusted)
    #: Let the server fetch URLs on loopback/private networks for users (link checks):
    #: off, so a page cannot be used to probe the network Decant runs in (app/netguard.py).
    FETCH_PRIVATE_ADDRESSES = False
    #: The pre-flight spam score: SpamAssassin's command, local rules only ("" turns it off).
    SPAMASSASSIN_COMMAND = "spamassassin"


def _convert(name: str, raw: str, default: Any = None) -> Any:
    kind = ENV_SETTINGS.get(name) or (type(default) if default is not None else str)
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    return raw


@dataclass(frozen=True)
class Setting:
    """A setting a channel declares: read by the core with the same precedence as every
    other (default, instance/config.py, environment, create_app overrides) and converted
    to ``type``; ``flask channels settings`` lists them with their docs."""

    name: str
    type: type = str
    default: Any = None
    doc: str = ""
    secret: bool = False

    def convert(self, raw: Any) -> Any:
        """``raw`` as this setting's type; a string from the environment or a file."""
        if raw is None or not isinstance(raw, str) or self.type is str:
            return raw
        try:
            return _as(self.type, raw)
        except ValueError as exc:
            raise RuntimeError(
                f"{self.name} must be a {self.type.__name__}, not {raw!r}: {self.doc}"
            ) from exc


def _as(kind: type, raw: str) -> Any:
    if kind is bool:
        value = raw.strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(raw)
    if kind in (tuple, list):
        return kind(part.strip() for part in raw.split(",") if part.strip())
    return kind(raw)


def apply_settings(app: Flask, settings: Sequence[Setting]) -> None:
    """Put each declared setting in ``app.config``: an override given to create_app, else
    the environment, else instance/config.py, else the default; converted to its type."""
    overrides = app.extensions.get("decant_config_overrides", set())
    for setting in settings:
        name = setting.name
        env = os.environ.get(name)
        if name in overrides:
            value = app.config[name]
        elif env not in (None, ""):
            value = env
        elif name in app.config:
            value = app.config[name]
        else:
            value = setting.default
        app.config[name] = setting.convert(value)


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill ``app.config`` in order: defaults, instance/config.py, environment, overrides."""
    app.extensions["decant_config_overrides"] = set(overrides or ())
    load_dotenv(Path.cwd() / ".env", override=False)
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    for name, value in os.environ.items():
        if value == "" or not (name in ENV_SETTINGS or name.startswith(CHANNEL_PREFIXES)):
            continue
        app.config[name] = _convert(name, value, app.config.get(name))
    if overrides:
        app.config.update(overrides)
    _derive(app)


def _derive(app: Flask) -> None:
    cfg = app.config
    env = cfg["DECANT_ENV"]
    if env not in {"production", "development", "testing"}:
        raise RuntimeError(f"DECANT_ENV must be production, development or testing, not {env!r}")
    cfg["TESTING"] = env == "testing" or bool(cfg.get("TESTING"))
    if cfg.get("JOBS_IN_THREAD") is None:
        cfg["JOBS_IN_THREAD"] = not cfg["TESTING"]
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _instance_secret_key(app, create=env != "production")
    if not cfg.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set. In production set SECRET_KEY in the environment "
            "(or run `make run` once to generate instance/secret_key)."
        )
    if env == "production" and len(str(cfg["SECRET_KEY"]).encode()) < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(
            f"SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes: it signs sessions and "
            "links, so a short one can be guessed. Generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "decant.sqlite")
    cfg["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(cfg["DATABASE_URL"])
    if cfg.get("SESSION_COOKIE_SECURE") is None:
        cfg["SESSION_COOKIE_SECURE"] = env == "production"
    cfg["REMEMBER_COOKIE_SECURE"] = cfg["SESSION_COOKIE_SECURE"]
    cfg["EMAIL_PROVIDER"] = cfg.get("EMAIL_PROVIDER") or _default_email_provider(cfg)
    cfg["SMS_PROVIDER"] = cfg.get("SMS_PROVIDER") or (
        "twilio" if cfg.get("TWILIO_ACCOUNT_SID") and cfg.get("TWILIO_AUTH_TOKEN") else "console"
    )
    if cfg.get("REDIS_URL") and cfg["RATELIMIT_STORAGE_URI"] == "memory://":
        cfg["RATELIMIT_STORAGE_URI"] = cfg["REDIS_URL"]


def _default_email_provider(cfg: FlaskConfig) -> str:
    """The real adapter whose credentials are set, else console (dev mode)."""
    if cfg.get("SENDGRID_API_KEY"):
        return "sendgrid"
    if cfg.get("RESEND_API_KEY"):
        return "resend"
    if cfg.get("AWS_ACCESS_KEY_ID") and cfg.get("AWS_SECRET_ACCESS_KEY"):
        return "ses"
    if cfg.get("SMTP_HOST"):
        return "smtp"
    return "console"


def _normalise_db_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(app: Flask, *, create: bool) -> str | None:
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip() or None
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_urlsafe(48))
    path.chmod(0o600)
    return path.read_text().strip()
