"""Builds the running product from settings: the store, the mapping, the vendor adapters.

One place decides which system plays which part (settings `lms`, `goal_tracker`,
`review_sources`), so the CLI, `serve`, `sync`, the demo and the tests all wire the same way.
Every HTTP adapter shares the store's rate budget and reports to the metrics registry.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connector.errors import ConfigError
from connector.executor import Context
from connector.observability.metrics import observe_vendor_call
from connector.ports import EmployeeDirectory, GoalTracker, LearningPlatform, ReviewSource
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping
from mappings.schema import Mapping

log = logging.getLogger(__name__)

@dataclass
class Runtime:
    settings: Settings
    store: Store
    ctx: Context
    review_sources: list[ReviewSource] = field(default_factory=list)
    directory: EmployeeDirectory | None = None

    @property
    def lms(self) -> LearningPlatform | None:
        return self.ctx.lms

    def close(self) -> None:
        self.store.close()


def resolve_mapping_path(settings: Settings) -> Path:
    path = Path(settings.mapping_file)
    if path.exists():
        return path
    packaged = Path(__file__).resolve().parent.parent / "mappings" / path.name
    if packaged.exists():
        return packaged
    raise ConfigError(f"mapping file {path} not found (CONNECTOR_MAPPING_FILE)")


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database_url, max_attempts=settings.job_max_attempts)


def build_runtime(settings: Settings, *, store: Store | None = None,
                  mapping: Mapping | None = None, http_kw: dict[str, Any] | None = None
                  ) -> Runtime:
    """The product wired as configured. Missing credentials are a ConfigError up front."""
    store = store or open_store(settings)
    mapping = mapping or load_mapping(resolve_mapping_path(settings))
    kw: dict[str, Any] = {"budget": store, "observer": observe_vendor_call, **(http_kw or {})}
    lms = _build_lms(settings, store, kw)
    token = _orangehrm_token(settings, store, kw)
    goals = _build_goals(settings, kw, token)
    ctx = Context(store=store, mapping=mapping, lms=lms, goals=goals,
                  create_learners=settings.talentlms_create_learners,
                  close_goals=settings.bamboohr_close_goals,
                  count_unassigned_completions=settings.count_unassigned_completions)
    sources = _build_review_sources(settings, kw, token)
    directory: EmployeeDirectory | None = None
    if settings.goal_tracker == "bamboohr" and settings.bamboohr_api_key is not None:
        from connector.vendors.bamboohr import BambooHRDirectory

        directory = BambooHRDirectory.from_settings(settings, **kw)
    return Runtime(settings=settings, store=store, ctx=ctx, review_sources=sources,
                   directory=directory)


def _build_lms(settings: Settings, store: Store, kw: dict[str, Any]) -> LearningPlatform | None:
    if settings.lms == "none":
        return None
    from connector.vendors.talentlms import TalentLMS

    store.configure_budget("talentlms", settings.talentlms_hourly_limit)
    return TalentLMS.from_settings(settings, **kw)


def _build_goals(settings: Settings, kw: dict[str, Any], token: Any) -> GoalTracker | None:
    if settings.goal_tracker == "none":
        return None
    if settings.goal_tracker == "bamboohr":
        from connector.vendors.bamboohr import BambooHRGoals

        return BambooHRGoals.from_settings(settings, **kw)
    if settings.goal_tracker == "orangehrm":
        from connector.vendors.orangehrm import OrangeHRMTrackers, orangehrm_http

        return OrangeHRMTrackers.from_settings(
            settings, http=orangehrm_http(settings, token=token, **kw))
    from connector.vendors.generic import WebhookGoals

    return WebhookGoals.from_settings(settings, **kw)


REFRESH_TOKEN_CURSOR = "_secret.orangehrm.refresh_token"  # noqa: S105 - a key, not a secret


def _orangehrm_token(settings: Settings, store: Store, kw: dict[str, Any]) -> Any:
    """One OAuth token holder per process for every OrangeHRM client: OrangeHRM rotates the
    refresh token on each use, so two holders would revoke each other's.

    Each rotated refresh token is kept in the store, so the next process start (a cron'd
    `sync --once`, a restart) continues the chain instead of presenting a revoked token. A
    newly configured token (the admin consented again) starts a new chain.
    """
    wanted = settings.goal_tracker == "orangehrm" or (
        "orangehrm" in settings.review_sources and settings.orangehrm_client_id is not None)
    if not wanted:
        return None
    from connector.vendors.orangehrm import orangehrm_token

    configured = settings.orangehrm_refresh_token
    on_refresh = None
    if configured is not None:
        seed = hashlib.sha256(configured.get_secret_value().encode()).hexdigest()[:16]
        saved = json.loads(store.cursor(REFRESH_TOKEN_CURSOR) or "{}")
        if saved.get("seed") == seed and saved.get("token"):
            settings = settings.model_copy(
                update={"orangehrm_refresh_token": SecretStr(saved["token"])})

        def on_refresh(token: str) -> None:
            store.save_cursor(REFRESH_TOKEN_CURSOR, json.dumps({"seed": seed, "token": token}))

    return orangehrm_token(settings, on_refresh_token=on_refresh, **kw)


def _build_review_sources(settings: Settings, kw: dict[str, Any], token: Any
                          ) -> list[ReviewSource]:
    sources: list[ReviewSource] = []
    for name in (s.strip() for s in settings.review_sources.split(",") if s.strip()):
        if name == "orangehrm":
            if settings.orangehrm_client_id is None:
                log.info("OrangeHRM review polling is off: CONNECTOR_ORANGEHRM_CLIENT_ID unset")
                continue
            from connector.vendors.orangehrm import OrangeHRMReviews, orangehrm_http

            sources.append(OrangeHRMReviews.from_settings(
                settings, http=orangehrm_http(settings, token=token, **kw)))
        elif name not in {"csv", "webhook"}:
            raise ConfigError(f"CONNECTOR_REVIEW_SOURCES: unknown source {name!r} "
                              "(expected orangehrm, csv, webhook)")
    return sources
