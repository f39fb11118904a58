"""Runtime settings from the environment and `.env`, prefix `CONNECTOR_`.

The core's settings live here; each vendor declares its own model (`VendorSettings`, variables
`CONNECTOR_<VENDOR>_…`) in its plug-in, and `Settings` reads them all at once, so one run
reports every bad variable. Secrets are `SecretStr` (never printed) and may also come from a
file named by the same variable with `_FILE` appended
(`CONNECTOR_TALENTLMS_API_KEY_FILE=/run/secrets/tlms`), for container secret stores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.errors import ConfigError

_UNSET: Any = object()
DEFAULT_POLL_SECONDS = 600


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


class SettingsBase(BaseSettings):
    """What every settings model shares: secrets may come from `<VARIABLE>_FILE`, and an
    empty variable means "unset" (so a copied `config.example.env` keeps every default).
    An empty keyword override means "unset" too (`load_settings(talentlms_api_key="")` is no
    key), so a value passed along from a form or a file cannot switch a vendor on by being
    empty; the environment's value, if any, then holds."""

    def __init__(self, **values: Any) -> None:
        super().__init__(**{key: value for key, value in values.items()
                            if key.startswith("_") or value != ""})

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """`CONNECTOR_X_FILE=/path` fills secret `x` from that file (trailing newline dropped).
        Read from the process environment only, never from `.env`."""
        if not isinstance(data, dict):
            return data
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, info in cls.model_fields.items():
            if not _is_secret(info.annotation):
                continue
            variable = f"{prefix}{name}".upper()
            path = os.environ.get(f"{variable}_FILE")
            if path and not data.get(name):
                try:
                    data[name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(
                        f"{variable}_FILE: cannot read {path}: {exc.strerror}") from None
        return data


def vendor_config(prefix: str) -> SettingsConfigDict:
    """The settings config of a vendor whose variables are `CONNECTOR_<PREFIX>_<FIELD>`."""
    return SettingsConfigDict(env_prefix=f"CONNECTOR_{prefix.upper()}_", env_file=".env",
                              env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)


# A host with one of these labels is an example's placeholder, never a real account: the
# settings defaults (`example.talentlms.com`), RFC 2606's `example.com`, and the
# `yourcompany.…` / `yourdomain.…` of config.example.env.
PLACEHOLDER_LABELS = frozenset({"example", "yourcompany", "yourdomain", "your-company",
                                "your-domain"})


def url_problem(variable: str, value: str) -> str | None:
    """Why `value` cannot be a vendor's address, naming `variable` and at most its host
    (never a path or query, which can hold a token), or None when it can be."""
    parts = urlsplit(value.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        return f"{variable} is not a URL (it needs https:// and a host name)"
    labels = host.rstrip(".").split(".")
    if PLACEHOLDER_LABELS & set(labels) or labels[-1] in {"example", "invalid"}:
        return (f"{variable} is still a placeholder ({host}): set it to your own account's "
                "address")
    return None


class VendorSettings(SettingsBase):
    """A vendor's own settings model (declared by its plug-in). A vendor that is polled
    declares a `poll_seconds` field: how often the service polls what it does not push.

    `REQUIRED` names the fields a first setup must fill before the vendor can be reached
    (besides `base_url`, which every vendor with one must point at a real host):
    `unfilled()` lists what is left, and `require_filled()` refuses to build a client —
    before any call — while anything is."""

    model_config = vendor_config("VENDOR")
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    def unfilled(self) -> list[str]:
        """What the operator still has to set, in config.example.env's order: a placeholder
        or malformed base URL first, then each required field left empty."""
        problems = []
        base_url = getattr(self, "base_url", None)
        if isinstance(base_url, str):
            problem = url_problem(self.variable("base_url"), base_url)
            if problem:
                problems.append(problem)
        problems += [f"{self.variable(name)} is not set" for name in self.REQUIRED
                     if getattr(self, name, None) in (None, "")]
        return problems

    def require_filled(self) -> None:
        """Raise a ConfigError naming the first variable to fill (no call is made first)."""
        problems = self.unfilled()
        if problems:
            raise ConfigError(f"{problems[0]}; see config.example.env and docs/vendors.md")

    def poll_interval(self) -> float:
        return float(getattr(self, "poll_seconds", DEFAULT_POLL_SECONDS))

    @classmethod
    def prefix(cls) -> str:
        return str(cls.model_config.get("env_prefix", ""))

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of one field, for messages that say what to set."""
        return f"{cls.prefix()}{name}".upper()


V = TypeVar("V", bound=VendorSettings)


class Settings(SettingsBase):
    """Everything an operator can set: these core settings, plus each registered vendor's own
    model (`settings.vendor(TalentLMSSettings)`). `config.example.env` documents each
    variable. Keyword overrides use the variable's name without `CONNECTOR_`, for vendors too
    (`Settings(talentlms_base_url=…)`)."""

    model_config = SettingsConfigDict(
        env_prefix="CONNECTOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        env_ignore_empty=True,
    )

    database_url: str = "sqlite:///./connector.db"
    mapping_file: Path = Path("mappings/example.toml")
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # `connector worker` only
    metrics_host: str = "127.0.0.1"

    # Which systems play which part: names from the vendor registry, or "none".
    lms: str = "talentlms"
    goal_tracker: str = "bamboohr"
    review_sources: str = "orangehrm"  # comma-separated: registered vendors, csv, webhook
    directory: str = "auto"  # "auto": the goal tracker's directory, when it has one
    # Completion sources polled beside the LMS, comma-separated (an xAPI LRS: "xapi_lrs").
    completion_sources: str = ""
    # How a person's id in the goal tracker is found: by email through the directory, or
    # "id" (the review source's ids are valid there too). See connector/id_spaces.py.
    identity_match_by: Literal["email", "id"] = "email"

    # Webhooks (inbound)
    webhook_secrets: SecretStr | None = None  # comma-separated whsec_… list, for rotation
    webhook_max_bytes: int = 256 * 1024
    webhook_tolerance_seconds: int = 300

    # Worker and HTTP
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    job_max_attempts: int = Field(default=8, ge=1)
    job_lease_seconds: int = Field(default=60, ge=5)
    http_connect_timeout: float = 5.0
    http_read_timeout: float = 30.0
    http_burst: int = 50
    http_deadline_seconds: float = Field(default=120.0, gt=0)  # a whole call, body included
    http_max_body_bytes: int = Field(default=64 * 1024 * 1024, gt=0)

    # Secrets at rest (connector/secrets.py): Fernet keys, comma-separated, the first
    # encrypts and all decrypt; unset on SQLite: a generated key file beside the database.
    secrets_key: SecretStr | None = None

    # Safety
    max_assignments_per_run: int = 500
    max_assignment_share: float = 0.5
    max_leaver_share: float = 0.05
    count_unassigned_completions: bool = True

    # Drift reconciliation (connector/operations/reconcile.py; docs/production.md): how often
    # `serve` compares the ledger with the vendors (0 = never; `connector reconcile` still
    # runs), and whether an enrollment removed by hand while its goal is open is re-enrolled
    # once (said in the audit, status and trace) or only flagged.
    reconcile_seconds: int = Field(default=86400, ge=0)
    reconcile_reenroll: bool = True

    # The operator console (connector/console; docs/console.md)
    console_users: SecretStr | None = None  # `name:role:argon2-hash` entries, space-separated
    console_secret_key: SecretStr | None = None  # signs sessions; the same in every process
    console_session_minutes: int = Field(default=480, ge=1)
    console_secure_cookies: bool = False  # true when the console is served over TLS
    console_login_attempts: int = Field(default=5, ge=1)  # failures allowed per window
    console_login_window_seconds: int = Field(default=900, ge=1)
    # The console's address as staff reach it, for the links in notifications.
    console_url: str = "http://127.0.0.1:8081"

    # Notifications (connector/notifications; docs/notifications.md): optional, each channel on
    # when set. A Slack- or Teams-compatible incoming webhook (its URL is a secret) and/or
    # e-mail through an SMTP server (STARTTLS with a verified certificate unless turned off
    # for a loopback relay).
    notify_webhook_url: SecretStr | None = None
    notify_smtp_host: str | None = None
    notify_smtp_port: int = Field(default=587, ge=1, le=65535)
    notify_smtp_starttls: bool = True
    notify_smtp_username: str | None = None
    notify_smtp_password: SecretStr | None = None
    notify_email_from: str | None = None
    notify_email_to: str | None = None  # comma-separated addresses
    notify_every_seconds: float = Field(default=60.0, gt=0)
    # A poller counts as failing once it has not succeeded for this long (one flaky answer
    # is not worth a message).
    notify_poller_grace_seconds: float = Field(default=900.0, ge=0)

    _vendors: dict[str, VendorSettings] = PrivateAttr(default_factory=dict)
    _env_file_used: Any = PrivateAttr(default=_UNSET)

    def __init__(self, **values: Any) -> None:
        from connector.vendors import registry

        env_file = values.get("_env_file", _UNSET)
        plugins = registry.plugins()
        own: dict[str, dict[str, Any]] = {p.name: {} for p in plugins}
        core: dict[str, Any] = {}
        for key, value in values.items():
            owner = _owner(key, plugins)
            if owner is None:
                core[key] = value
            else:
                own[owner.name][key[len(owner.settings.prefix()) - len("CONNECTOR_"):]] = value
        problems: list[str] = []
        try:
            super().__init__(**core)
        except ValidationError as exc:
            problems += _problems(exc, "CONNECTOR_")
        vendors: dict[str, VendorSettings] = {}
        for plugin in plugins:
            extra = {"_env_file": env_file} if env_file is not _UNSET else {}
            try:
                vendors[plugin.name] = plugin.settings(**extra, **own[plugin.name])
            except ValidationError as exc:
                problems += _problems(exc, plugin.settings.prefix())
        if not problems:
            problems += self._roles_problems() + self._notify_problems()
        if problems:
            raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))
        self._vendors = vendors
        self._env_file_used = env_file

    def notify_recipients(self) -> list[str]:
        return [a.strip() for a in (self.notify_email_to or "").split(",") if a.strip()]

    def _notify_problems(self) -> list[str]:
        """E-mail notifications need a sender and recipients; a webhook must be HTTPS
        (loopback excepted, for a local relay)."""
        problems = []
        if self.notify_smtp_host:
            if not self.notify_email_from or "@" not in self.notify_email_from:
                problems.append("CONNECTOR_NOTIFY_EMAIL_FROM: e-mail notifications "
                                "(CONNECTOR_NOTIFY_SMTP_HOST is set) need a sender address")
            if not self.notify_recipients() or any(
                    "@" not in a for a in self.notify_recipients()):
                problems.append("CONNECTOR_NOTIFY_EMAIL_TO: e-mail notifications need "
                                "recipient addresses, comma-separated")
        if self.notify_webhook_url is not None:
            url = urlsplit(self.notify_webhook_url.get_secret_value())
            loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
            if url.scheme != "https" and not (url.scheme == "http" and loopback):
                problems.append("CONNECTOR_NOTIFY_WEBHOOK_URL: expected an https:// incoming-"
                                "webhook URL (http only on loopback)")
        return problems

    def _roles_problems(self) -> list[str]:
        from connector.vendors import registry
        from connector.vendors.registry import PUSH_SOURCES, Role

        problems = []
        for variable, value, role in (("CONNECTOR_LMS", self.lms, Role.LMS),
                                      ("CONNECTOR_GOAL_TRACKER", self.goal_tracker, Role.GOALS)):
            allowed = [*registry.names(role), "none"]
            if value not in allowed:
                problems.append(f"{variable}: expected one of {', '.join(allowed)}, "
                                f"got {value!r}")
        allowed = [*registry.names(Role.REVIEWS), *sorted(PUSH_SOURCES)]
        for name in self.review_source_names():
            if name not in allowed:
                problems.append(f"CONNECTOR_REVIEW_SOURCES: unknown source {name!r} "
                                f"(expected {', '.join(allowed)})")
        allowed = registry.names(Role.COMPLETIONS)
        for name in self.completion_source_names():
            if name not in allowed:
                problems.append(f"CONNECTOR_COMPLETION_SOURCES: unknown source {name!r} "
                                f"(expected {', '.join(allowed) or 'none registered'})")
        allowed = [*registry.names(Role.DIRECTORY), "auto", "none"]
        if self.directory not in allowed:
            problems.append(f"CONNECTOR_DIRECTORY: expected one of {', '.join(allowed)}, "
                            f"got {self.directory!r}")
        return problems

    def setup_problems(self) -> list[str]:
        """What a first setup still has to fill, for the vendors these settings use (the LMS,
        the goal tracker, the polled review sources, a named directory): each vendor's
        `unfilled()`. Empty when every vendor in use can be reached."""
        from connector.vendors import registry

        names = [self.lms, self.goal_tracker, *self.review_source_names(), self.directory,
                 *self.completion_source_names()]
        problems: list[str] = []
        for name in dict.fromkeys(names):
            if name in {plugin.name for plugin in registry.plugins()}:
                problems += self.vendor(registry.get(name).settings).unfilled()
        return problems

    def http_options(self) -> dict[str, Any]:
        """What every vendor HTTP client takes from the core settings."""
        return {"connect_timeout": self.http_connect_timeout,
                "read_timeout": self.http_read_timeout, "burst": self.http_burst,
                "deadline": self.http_deadline_seconds,
                "max_body_bytes": self.http_max_body_bytes}

    def review_source_names(self) -> list[str]:
        return [s.strip() for s in self.review_sources.split(",") if s.strip()]

    def completion_source_names(self) -> list[str]:
        return [s.strip() for s in self.completion_sources.split(",") if s.strip()]

    def vendor(self, model: type[V]) -> V:
        """This vendor's own settings. A vendor registered after these settings were read
        (a test's, a customer's) reads its variables now."""
        for value in self._vendors.values():
            if type(value) is model:
                return value
        extra = {"_env_file": self._env_file_used} if self._env_file_used is not _UNSET else {}
        try:
            loaded = model(**extra)
        except ValidationError as exc:
            raise ConfigError("invalid settings:\n  "
                              + "\n  ".join(_problems(exc, model.prefix()))) from None
        self._vendors[model.__name__] = loaded
        return loaded

    def with_vendor(self, value: VendorSettings) -> Settings:
        """A copy whose settings for that vendor are `value` (the rest shared)."""
        copy = self.model_copy()
        copy._vendors = {**self._vendors}
        for key, known in self._vendors.items():
            if type(known) is type(value):
                copy._vendors[key] = value
        return copy


def variables() -> dict[str, tuple[type[SettingsBase], str]]:
    """Every CONNECTOR_ variable the product reads → (its settings model, its field): the
    core's and each registered vendor's. config.example.env and docs are checked against it."""
    from connector.vendors import registry

    found: dict[str, tuple[type[SettingsBase], str]] = {
        f"CONNECTOR_{name.upper()}": (Settings, name) for name in Settings.model_fields}
    for plugin in registry.plugins():
        for name in plugin.settings.model_fields:
            found[plugin.settings.variable(name)] = (plugin.settings, name)
    return found


def _owner(key: str, plugins: list[Any]) -> Any:
    """The plug-in whose prefix a keyword override carries (`talentlms_api_key`), if any."""
    for plugin in plugins:
        prefix = plugin.settings.prefix()[len("CONNECTOR_"):].lower()
        if key.lower().startswith(prefix):
            return plugin
    return None


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    """One line per bad variable, naming it and never its value."""
    lines = []
    for err in exc.errors():
        field = "_".join(str(p) for p in err["loc"]) or "settings"
        lines.append(f"{prefix}{field.upper()}: {err['msg']}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Settings, or a ConfigError naming every bad variable at once (never its value)."""
    return Settings(**overrides)
