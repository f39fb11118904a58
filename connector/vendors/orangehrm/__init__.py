"""OrangeHRM 5: finished reviews in (`reviews.py`), performance trackers out (`trackers.py`),
over one OAuth token holder (`auth.py`, `client.py`)."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from connector.settings import Settings
from connector.tokens import TokenChain
from connector.vendors.orangehrm.auth import OAuthToken
from connector.vendors.orangehrm.client import OrangeHRMSettings, orangehrm_http, orangehrm_token
from connector.vendors.orangehrm.reviews import OrangeHRMReviews
from connector.vendors.orangehrm.trackers import OrangeHRMTrackers
from connector.vendors.registry import Role, VendorEnv, VendorLinks, VendorPlugin

if TYPE_CHECKING:
    from connector.sandbox.kit import Simulator

log = logging.getLogger(__name__)

REFRESH_TOKEN = "orangehrm.refresh_token"  # noqa: S105 - a name, not a secret


class OrangeHRM:
    """OrangeHRM as connected for one running product: one token holder for every client,
    because OrangeHRM rotates the refresh token on each use and two holders would revoke
    each other's."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env
        self.own = env.settings.vendor(OrangeHRMSettings)
        self._token: OAuthToken | None = None

    def adapter(self, role: Role) -> object | None:
        if role is Role.REVIEWS:
            if self.own.client_id is None:
                log.info("OrangeHRM review polling is off: %s unset",
                         self.own.variable("client_id"))
                return None
            return OrangeHRMReviews.from_settings(self.env.settings, http=self._http(),
                                                  known_email=self.env.known_email)
        if role is Role.GOALS:
            return OrangeHRMTrackers.from_settings(self.env.settings, http=self._http())
        return None

    def _http(self) -> Any:
        return orangehrm_http(self.env.settings, token=self.token(), **self.env.http)

    def token(self) -> OAuthToken:
        """The token holder. With a configured refresh token its grant is a `TokenChain` kept
        in the store, encrypted (connector/tokens.py, connector/secrets.py): an access token
        is reused until it expires, so a process start (a cron'd `sync --once`, a restart)
        spends no refresh; one process at a time refreshes, and the rotated refresh token is
        committed before it is used. A newly configured token (the admin consented again)
        starts a new chain. Client credentials are not kept: a new grant costs nothing."""
        if self._token is not None:
            return self._token
        configured = self.own.refresh_token
        chain = None
        if configured is not None:
            seed = hashlib.sha256(configured.get_secret_value().encode()).hexdigest()[:16]
            self.env.secrets.require_key(REFRESH_TOKEN)  # refuse to start without a key
            chain = TokenChain(
                self.env.secrets, REFRESH_TOKEN, seed=seed, title="OrangeHRM",
                variable=self.own.variable("refresh_token"),
                call_seconds=self.env.settings.http_deadline_seconds)
        self._token = orangehrm_token(self.env.settings, chain=chain, **self.env.http)
        return self._token


def _simulator() -> type[Simulator]:
    from connector.vendors.orangehrm.sandbox import (
        OrangeHRMSandbox,  # the demo's, loaded only there
    )

    return OrangeHRMSandbox


def _links(settings: Settings) -> VendorLinks:
    """The pages the console links to (best known; `VendorLinks`)."""
    own = settings.vendor(OrangeHRMSettings)
    # The tracker's page, as OrangeHRM 5's own employee-tracker list opens it
    # (`navigate('/performance/addPerformanceTrackerLog/trackId/{id}')` under /web/index.php).
    return VendorLinks(goal=(f"{own.base_url.rstrip('/')}/web/index.php/performance/"
                            "addPerformanceTrackerLog/trackId/{goal_id}"))


PLUGIN = VendorPlugin(
    name="orangehrm", title="OrangeHRM", settings=OrangeHRMSettings, connect=OrangeHRM,
    adapters={Role.REVIEWS: OrangeHRMReviews, Role.GOALS: OrangeHRMTrackers},
    simulator=_simulator, links=_links,
)
