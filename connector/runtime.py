"""Builds the running product from settings: the store, the mapping, the vendor adapters.

One place decides which system plays which part (settings `lms`, `goal_tracker`,
`review_sources`, `directory`, each a name from the vendor registry), so the CLI, `serve`,
`sync`, the demo and the tests all wire the same way. No vendor is named here.
Every HTTP adapter shares the store's rate budget and reports to the metrics registry.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.abilities import refuse_missing_abilities
from connector.errors import ConfigError
from connector.executor import Context
from connector.id_spaces import IdSpaces
from connector.observability.metrics import observe_vendor_call
from connector.ports import (
    CompletionSource,
    EmployeeDirectory,
    GoalTracker,
    LearningPlatform,
    ReviewSource,
)
from connector.secrets import kept_secrets
from connector.settings import Settings
from connector.store import Store
from connector.vendors import registry
from connector.vendors.registry import PUSH_SOURCES, Role, Vendor, VendorEnv
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
    completion_sources: list[CompletionSource] = field(default_factory=list)
    # How often the service polls each stream, from the settings of the vendor behind it.
    schedule: dict[str, float] = field(default_factory=dict)

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


class _Vendors:
    """The registered vendors this runtime uses, each connected once."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env
        self.connected: dict[str, Vendor] = {}

    def adapter(self, name: str, role: Role) -> Any:
        plugin = registry.get(name)
        if not plugin.plays(role):
            raise ConfigError(f"{plugin.title} cannot be the {role.value} ({name!r})")
        if name not in self.connected:
            self.connected[name] = plugin.connect(self.env)
        return self.connected[name].adapter(role)

    def poll_seconds(self, name: str) -> float:
        return self.env.settings.vendor(registry.get(name).settings).poll_interval()


def build_runtime(settings: Settings, *, store: Store | None = None,
                  mapping: Mapping | None = None, http_kw: dict[str, Any] | None = None
                  ) -> Runtime:
    """The product wired as configured. Missing credentials, and a mapping that needs an
    ability the configured LMS lacks, are a ConfigError up front."""
    store = store or open_store(settings)
    mapping = mapping or load_mapping(resolve_mapping_path(settings))
    refuse_missing_abilities(mapping, configured_lms_class(settings))
    env = VendorEnv(settings=settings,
                    http={"budget": store, "observer": observe_vendor_call, **(http_kw or {})},
                    secrets=kept_secrets(settings, store), configure_budget=store.configure_budget)
    vendors = _Vendors(env)
    lms: LearningPlatform | None = None
    schedule: dict[str, float] = {}
    if settings.lms != "none":
        lms = vendors.adapter(settings.lms, Role.LMS)
        schedule["completions"] = vendors.poll_seconds(settings.lms)
    goals: GoalTracker | None = None
    if settings.goal_tracker != "none":
        goals = vendors.adapter(settings.goal_tracker, Role.GOALS)
    ctx = Context(store=store, mapping=mapping, lms=lms, goals=goals,
                  create_learners=bool(lms and lms.creates_learners),
                  close_goals=goals.closes_goals if goals is not None else True,
                  count_unassigned_completions=settings.count_unassigned_completions,
                  adopting=store.adoption_reason() is not None)
    sources: list[ReviewSource] = []
    for name in settings.review_source_names():
        if name in PUSH_SOURCES:
            continue
        source = vendors.adapter(name, Role.REVIEWS)
        if source is not None:
            sources.append(source)
            schedule["reviews"] = min(schedule.get("reviews", math.inf),
                                      vendors.poll_seconds(name))
    completion_sources: list[CompletionSource] = []
    for name in settings.completion_source_names():
        found = vendors.adapter(name, Role.COMPLETIONS)
        if found is not None:
            completion_sources.append(found)
            schedule["completions"] = min(schedule.get("completions", math.inf),
                                          vendors.poll_seconds(name))
    directory: EmployeeDirectory | None = None
    keeper = directory_vendor(settings)
    if keeper is not None:
        directory = vendors.adapter(keeper, Role.DIRECTORY)
        if directory is not None:
            schedule["directory"] = vendors.poll_seconds(keeper)
    ctx.id_spaces = IdSpaces(match_by=settings.identity_match_by,
                             directory=directory.name if directory is not None else None)
    return Runtime(settings=settings, store=store, ctx=ctx, review_sources=sources,
                   directory=directory, schedule=schedule,
                   completion_sources=completion_sources)


def build_lms(settings: Settings, store: Store) -> LearningPlatform | None:
    """Only the configured LMS, for a command that needs nothing else (`identities link`
    asks it whether a user exists): other vendors' settings may be unset."""
    if settings.lms == "none":
        return None
    env = VendorEnv(settings=settings, http={"budget": store, "observer": observe_vendor_call},
                    secrets=kept_secrets(settings, store), configure_budget=store.configure_budget)
    lms: LearningPlatform | None = _Vendors(env).adapter(settings.lms, Role.LMS)
    return lms


def directory_vendor(settings: Settings) -> str | None:
    """The vendor whose directory keeps identities current: CONNECTOR_DIRECTORY, or with
    "auto" the goal tracker when it has a directory."""
    if settings.directory == "none":
        return None
    if settings.directory != "auto":
        return settings.directory
    if settings.goal_tracker != "none" and registry.get(settings.goal_tracker).plays(
            Role.DIRECTORY):
        return settings.goal_tracker
    return None


def configured_lms_class(settings: Settings) -> type | None:
    """The configured LMS's adapter class, known without credentials or calls."""
    if settings.lms == "none":
        return None
    return registry.get(settings.lms).adapters.get(Role.LMS)
