"""The vendor registry: one entry per vendor, the only place the core learns vendor names.

A vendor is a plug-in: a name, the parts it can play (`Role`) with the adapter class for each,
its own settings model (`CONNECTOR_<PREFIX>_…`, secrets as `SecretStr`), how to connect it
(one `Vendor` per running product, so adapters of one vendor can share a token holder), and
its simulator for the demo. The runtime, the service, the pollers, the completion handler, the
CLI and the demo read this registry and name no vendor.

Adding a vendor: write its package under `connector/vendors/` with a `PLUGIN`, add its module
to `BUILTIN` below (the one registry line), and its section to docs/vendors.md. A vendor that
lives elsewhere (a test, a customer's package) calls `register(plugin)` instead.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.models import Employee
    from connector.sandbox.kit import Simulator
    from connector.settings import Settings, VendorSettings

BUILTIN = (
    "connector.vendors.talentlms",
    "connector.vendors.bamboohr",
    "connector.vendors.orangehrm",
    "connector.vendors.generic",
    "connector.vendors.hibob",
    "connector.vendors.xapi_lrs",
)

# Review "sources" that nobody polls: the operator imports files, or an HR system pushes.
PUSH_SOURCES = frozenset({"csv", "webhook"})


class Role(StrEnum):
    """A part a vendor can play in the loop; each is one port in `connector.ports`."""

    LMS = "lms"
    GOALS = "goals"
    REVIEWS = "reviews"
    DIRECTORY = "directory"
    COMPLETIONS = "completions"  # a completion source polled beside the LMS (an xAPI LRS)


class KeptSecrets(Protocol):
    """Where a vendor keeps credentials that change while it runs (a rotating refresh token),
    so the next process start continues from them. Backed by the store."""

    def load(self, name: str) -> str | None: ...

    def save(self, name: str, value: str) -> None: ...

    # A lease on `name` (connector/tokens.py: one process at a time refreshes a credential).
    def lease(self, name: str, owner: str, seconds: float) -> bool: ...

    def release(self, name: str, owner: str) -> None: ...

    def require_key(self, name: str) -> None: ...  # refuses to start when it cannot encrypt


@dataclass(frozen=True)
class VendorEnv:
    """What a plug-in builds its adapters from: the settings, the options every vendor HTTP
    client takes from the runtime (shared rate budget, metrics observer, test clocks), the
    kept secrets, and a hook to size the shared hourly budget."""

    settings: Settings
    http: Mapping[str, Any]
    secrets: KeptSecrets
    configure_budget: Callable[..., None]  # (bucket, calls per hour, burst=None)


class Vendor(Protocol):
    """A connected vendor: the adapter for a role, or None when the settings leave that part
    switched off (for example OrangeHRM review polling without a client id)."""

    def adapter(self, role: Role) -> object | None: ...


@dataclass(frozen=True)
class VendorLinks:
    """Where a person opens a record in the vendor's own web app (the console's person
    page): URL templates over the vendor's ids, `{course_id}`, `{goal_id}` and
    `{employee_id}` (the person's id in that vendor); None where no page is known."""

    course: str | None = None
    goal: str | None = None


@dataclass(frozen=True)
class VendorPlugin:
    """Everything the product needs to know about one vendor."""

    name: str  # the value of CONNECTOR_LMS / CONNECTOR_GOAL_TRACKER / CONNECTOR_REVIEW_SOURCES
    title: str  # how people call it, in messages and evidence
    settings: type[VendorSettings]
    connect: Callable[[VendorEnv], Vendor]
    # The adapter class per role, so abilities can be checked before anything is configured.
    adapters: Mapping[Role, type] = field(default_factory=dict)
    simulator: Callable[[], type[Simulator]] | None = None  # its sandbox, for the demo
    # Other source names its adapters put on events (e.g. "xapi"), for display only.
    labels: Mapping[str, str] = field(default_factory=dict)
    # A person changed in this vendor (a verified webhook's `{employee_id, action, fields}`)
    # as the employee it leaves behind, on top of what the ledger knew.
    employee_change: Callable[[Settings, Mapping[str, Any], Employee | None], Employee] | None \
        = None
    links: Callable[[Settings], VendorLinks] | None = None  # its web pages, when known

    def plays(self, role: Role) -> bool:
        return role in self.adapters


_lock = threading.Lock()
_plugins: dict[str, VendorPlugin] = {}
_loaded = False


def _load_builtin() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        for module in BUILTIN:
            plugin: VendorPlugin = importlib.import_module(module).PLUGIN
            _plugins.setdefault(plugin.name, plugin)
        _loaded = True


def register(plugin: VendorPlugin) -> None:
    """Add a vendor that does not ship with the product. Registering a name twice is refused
    unless it is the same plug-in (importing a module twice is harmless)."""
    _load_builtin()
    with _lock:
        known = _plugins.get(plugin.name)
        if known is not None and known is not plugin:
            raise ConfigError(f"a vendor named {plugin.name!r} is already registered")
        _plugins[plugin.name] = plugin


def unregister(name: str) -> None:
    """Remove a vendor registered with `register` (tests clean up with this)."""
    with _lock:
        _plugins.pop(name, None)


def plugins() -> list[VendorPlugin]:
    _load_builtin()
    return list(_plugins.values())


def names(role: Role) -> list[str]:
    """The vendors that can play `role`, in registry order."""
    return [p.name for p in plugins() if p.plays(role)]


def get(name: str) -> VendorPlugin:
    _load_builtin()
    try:
        return _plugins[name]
    except KeyError:
        raise ConfigError(f"no vendor named {name!r} is registered "
                          f"(known: {', '.join(_plugins)})") from None


def title(name: str) -> str:
    """A name fit for people: the vendor's title, or a label a vendor declared, else `name`."""
    for plugin in plugins():
        if plugin.name == name:
            return plugin.title
        if name in plugin.labels:
            return plugin.labels[name]
    return name
