"""Any xAPI learning record store as a completion source (pull): `statements.py`.

Turned on with `CONNECTOR_COMPLETION_SOURCES=xapi_lrs`; it is polled beside the LMS, and its
events go the same way as every other completion (`inbound.queue_completion`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.vendors.registry import Role, VendorEnv, VendorPlugin
from connector.vendors.xapi_lrs.statements import VENDOR, XapiLrs, XapiLrsSettings

if TYPE_CHECKING:
    from connector.sandbox.kit import Simulator


class XapiLrsVendor:
    """An LRS as connected for one running product; it sizes the shared hourly budget."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env

    def adapter(self, role: Role) -> object | None:
        if role is not Role.COMPLETIONS:
            return None
        own = self.env.settings.vendor(XapiLrsSettings)
        self.env.configure_budget(VENDOR, own.hourly_limit)
        return XapiLrs.from_settings(self.env.settings, **self.env.http)


def _simulator() -> type[Simulator]:
    from connector.vendors.xapi_lrs.sandbox import LrsSandbox  # the demo's, loaded only there

    return LrsSandbox


PLUGIN = VendorPlugin(
    name=VENDOR, title="LRS", settings=XapiLrsSettings, connect=XapiLrsVendor,
    adapters={Role.COMPLETIONS: XapiLrs}, simulator=_simulator,
)
