"""HiBob: development goals with one key result per course (check-ins as evidence) and the
people directory.

`client.py` holds the settings, the HTTP clients (one shared rate budget per HiBob endpoint
group) and error text, `goals.py` the `GoalTracker`, `directory.py` the `EmployeeDirectory`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.vendors.hibob.client import (
    GOALS_BUCKET,
    SEARCH_BUCKET,
    HiBobSettings,
    per_minute_budget,
)
from connector.vendors.hibob.directory import HiBobDirectory
from connector.vendors.hibob.goals import HiBobGoals
from connector.vendors.registry import Role, VendorEnv, VendorPlugin

if TYPE_CHECKING:
    from connector.sandbox.kit import Simulator


class HiBob:
    """HiBob as connected for one running product; it sizes the shared per-minute budgets."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env
        self.own = env.settings.vendor(HiBobSettings)

    def adapter(self, role: Role) -> object | None:
        if role is Role.GOALS:
            self.env.configure_budget(GOALS_BUCKET, *per_minute_budget(self.own.goals_per_minute))
            return HiBobGoals.from_settings(self.env.settings, **self.env.http)
        if role is Role.DIRECTORY:
            if self.own.token is None:
                return None
            self.env.configure_budget(SEARCH_BUCKET,
                                      *per_minute_budget(self.own.search_per_minute))
            return HiBobDirectory.from_settings(self.env.settings, **self.env.http)
        return None


def _simulator() -> type[Simulator]:
    from connector.vendors.hibob.sandbox import HiBobSandbox  # the demo's, loaded only there

    return HiBobSandbox


PLUGIN = VendorPlugin(
    name="hibob", title="HiBob", settings=HiBobSettings, connect=HiBob,
    adapters={Role.GOALS: HiBobGoals, Role.DIRECTORY: HiBobDirectory},
    simulator=_simulator,
)
