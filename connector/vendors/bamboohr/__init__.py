"""BambooHR: development goals (with course milestones and evidence comments), the employee
directory, and signed employee-change webhooks.

`client.py` holds the settings and the HTTP client, `goals.py` the `GoalTracker`,
`directory.py` the `EmployeeDirectory` and the one rule for who is active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connector.models import Employee
from connector.settings import Settings
from connector.vendors.bamboohr.client import BambooHRSettings
from connector.vendors.bamboohr.directory import BambooHRDirectory, person
from connector.vendors.bamboohr.goals import BambooHRGoals
from connector.vendors.registry import Role, VendorEnv, VendorLinks, VendorPlugin

if TYPE_CHECKING:
    from connector.sandbox.kit import Simulator


class BambooHR:
    """BambooHR as connected for one running product."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env
        self.own = env.settings.vendor(BambooHRSettings)

    def adapter(self, role: Role) -> object | None:
        if role is Role.GOALS:
            return BambooHRGoals.from_settings(self.env.settings, **self.env.http)
        if role is Role.DIRECTORY:
            if self.own.api_key is None:
                return None
            return BambooHRDirectory.from_settings(self.env.settings, **self.env.http)
        return None


def employee_change(settings: Settings, change: Mapping[str, Any],
                    known: Employee | None) -> Employee:
    """A verified employee-change webhook as the employee it leaves behind."""
    own = settings.vendor(BambooHRSettings)
    return person(change.get("fields") or {}, employee_id=str(change["employee_id"]),
                  active_statuses=own.active_status_list(), known=known,
                  deleted=change.get("action") == "deleted")



def _simulator() -> type[Simulator]:
    from connector.vendors.bamboohr.sandbox import BambooHRSandbox  # the demo's, loaded only there

    return BambooHRSandbox


def _links(settings: Settings) -> VendorLinks:
    """The pages the console links to (best known; `VendorLinks`)."""
    own = settings.vendor(BambooHRSettings)
    # The employee's profile (`/employees/employee.php?id=N`, the address BambooHR itself
    # shows for a profile). A goals-tab address could not be confirmed in public docs, so the
    # link opens the profile the goals tab belongs to rather than a guessed page.
    return VendorLinks(
        goal=f"{own.base_url.rstrip('/')}/employees/employee.php?id={{employee_id}}")


PLUGIN = VendorPlugin(
    name="bamboohr", title="BambooHR", settings=BambooHRSettings, connect=BambooHR,
    adapters={Role.GOALS: BambooHRGoals, Role.DIRECTORY: BambooHRDirectory},
    employee_change=employee_change,
    simulator=_simulator, links=_links,
)
