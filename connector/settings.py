"""Runtime settings from the environment and `.env`, prefix `CONNECTOR_`.

Secrets are `SecretStr` (never printed) and may also come from a file named by the same
variable with `_FILE` appended (`CONNECTOR_TALENTLMS_API_KEY_FILE=/run/secrets/tlms`), for
container secret stores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.errors import ConfigError

_SECRET_FIELDS = (
    "talentlms_api_key",
    "talentlms_v2_api_key",
    "bamboohr_api_key",
    "bamboohr_webhook_secret",
    "orangehrm_client_secret",
    "orangehrm_refresh_token",
    "webhook_secrets",
    "outbound_webhook_secret",
)


class Settings(BaseSettings):
    """Everything an operator can set. `config.example.env` documents each variable."""

    model_config = SettingsConfigDict(
        env_prefix="CONNECTOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./connector.db"
    mapping_file: Path = Path("mappings/example.toml")
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # `connector worker` only
    metrics_host: str = "127.0.0.1"

    # Which systems play which part.
    lms: Literal["talentlms", "none"] = "talentlms"
    goal_tracker: Literal["bamboohr", "orangehrm", "webhook", "none"] = "bamboohr"
    review_sources: str = "orangehrm"  # comma-separated: orangehrm, csv, webhook

    # TalentLMS
    talentlms_base_url: str = "https://example.talentlms.com"
    talentlms_api_key: SecretStr | None = None
    talentlms_api: Literal["v1", "v2"] = "v1"
    talentlms_v2_api_key: SecretStr | None = None
    talentlms_v2_version: str = "2024-01-01"
    talentlms_match_by: Literal["email", "login", "custom_field"] = "email"
    talentlms_custom_field: str | None = None
    talentlms_create_learners: bool = False
    talentlms_hourly_limit: int = 2000
    talentlms_poll_seconds: int = 300

    # BambooHR
    bamboohr_base_url: str = "https://example.bamboohr.com"
    bamboohr_api_key: SecretStr | None = None
    bamboohr_webhook_secret: SecretStr | None = None
    bamboohr_close_goals: bool = True
    bamboohr_training_type_id: int | None = None

    # OrangeHRM
    orangehrm_base_url: str = "https://example.orangehrm.com"
    orangehrm_client_id: str | None = None
    orangehrm_client_secret: SecretStr | None = None
    orangehrm_refresh_token: SecretStr | None = None
    orangehrm_include_self_ratings: bool = False
    orangehrm_poll_seconds: int = 600

    # Webhooks (inbound and outbound)
    webhook_secrets: SecretStr | None = None  # comma-separated whsec_… list, for rotation
    webhook_max_bytes: int = 256 * 1024
    webhook_tolerance_seconds: int = 300
    outbound_webhook_url: str | None = None
    outbound_webhook_secret: SecretStr | None = None

    # Worker and HTTP
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    job_max_attempts: int = Field(default=8, ge=1)
    job_lease_seconds: int = Field(default=60, ge=5)
    http_connect_timeout: float = 5.0
    http_read_timeout: float = 30.0
    http_burst: int = 50

    # Safety
    max_assignments_per_run: int = 500
    max_assignment_share: float = 0.5
    max_leaver_share: float = 0.05
    count_unassigned_completions: bool = True

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if value == "" else value  # `CONNECTOR_METRICS_PORT=` as in the example

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """`CONNECTOR_X_FILE=/path` fills `x` from that file (trailing newline dropped)."""
        if not isinstance(data, dict):
            return data
        for name in _SECRET_FIELDS:
            path = os.environ.get(f"CONNECTOR_{name.upper()}_FILE")
            if path and not data.get(name):
                try:
                    data[name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(
                        f"CONNECTOR_{name.upper()}_FILE: cannot read {path}: {exc.strerror}"
                    ) from None
        return data


def load_settings(**overrides: Any) -> Settings:
    """Settings or a ConfigError naming each bad variable (never its secret value)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"CONNECTOR_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None
