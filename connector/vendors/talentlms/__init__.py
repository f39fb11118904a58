"""TalentLMS as the LMS: `lms.py` (API v1 learners, catalogue, enrollments, progress,
certificates, history), `timeline.py` (completions from the v1 timeline), `batches.py`
(API v2 batch enrollments)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.settings import Settings
from connector.vendors.registry import Role, VendorEnv, VendorLinks, VendorPlugin
from connector.vendors.talentlms.lms import TalentLMS, TalentLMSSettings

if TYPE_CHECKING:
    from connector.sandbox.kit import Simulator


class TalentLMSVendor:
    """TalentLMS as connected for one running product; it sizes the shared hourly budget."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env

    def adapter(self, role: Role) -> object | None:
        if role is not Role.LMS:
            return None
        own = self.env.settings.vendor(TalentLMSSettings)
        self.env.configure_budget("talentlms", own.hourly_limit)
        return TalentLMS.from_settings(self.env.settings, **self.env.http)



def _simulator() -> type[Simulator]:
    from connector.vendors.talentlms.sandbox import (
        TalentLMSSandbox,  # the demo's, loaded only there
    )

    return TalentLMSSandbox


def _links(settings: Settings) -> VendorLinks:
    """The pages the console links to (best known; `VendorLinks`)."""
    own = settings.vendor(TalentLMSSettings)
    # The course's page in TalentLMS's admin web app (`/course/edit/id:N`, as a public
    # browser test of a TalentLMS portal navigates to it). A learner-side or `course/info`
    # address could not be confirmed in public docs, so none is guessed.
    return VendorLinks(course=f"{own.base_url.rstrip('/')}/course/edit/id:{{course_id}}")


PLUGIN = VendorPlugin(
    name="talentlms", title="TalentLMS", settings=TalentLMSSettings, connect=TalentLMSVendor,
    adapters={Role.LMS: TalentLMS},
    simulator=_simulator, links=_links,
)
