"""Moodle: the LMS (`lms.py`) and the goal tracker on learning plans and competencies
(`goals.py`), over one REST web-service client (`client.py`). Both parts share one client,
so one token and one pace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.errors import ConfigError
from connector.vendors.moodle.client import MoodleClient, MoodleSettings
from connector.vendors.moodle.goals import MoodleGoals
from connector.vendors.moodle.lms import MoodleLMS
from connector.vendors.moodle.skills import MappingCompetencies
from connector.vendors.registry import Role, VendorEnv, VendorPlugin

if TYPE_CHECKING:
    from connector.sandbox.kit import Simulator


class Moodle:
    """Moodle as connected for one running product."""

    own_name = "moodle"

    def __init__(self, env: VendorEnv) -> None:
        self.env = env
        self.own = env.settings.vendor(MoodleSettings)
        self._client: MoodleClient | None = None

    def client(self) -> MoodleClient:
        if self._client is None:
            self._client = MoodleClient.from_settings(self.env.settings, **self.env.http)
        return self._client

    def adapter(self, role: Role) -> object | None:
        own = self.own
        if role is Role.LMS:
            return MoodleLMS(self.client(), match_by=own.match_by,
                             create_learners=own.create_learners, create_auth=own.create_auth,
                             student_role_id=own.student_role_id,
                             end_enrolments=own.end_enrolments,
                             enrolment_grace_days=own.enrolment_grace_days,
                             learners_per_poll=own.learners_per_poll)
        if role is Role.GOALS:
            settings = self.env.settings
            if settings.lms != self.own_name and settings.identity_match_by != "id":
                raise ConfigError(
                    "Moodle as the goal tracker opens each plan on the learner's Moodle "
                    "account, which only Moodle as the LMS links: set CONNECTOR_LMS=moodle, "
                    "or CONNECTOR_IDENTITY_MATCH_BY=id when the review source's ids are "
                    "Moodle user ids")
            rules = self.env.rules
            skills = MappingCompetencies(lambda: rules) if rules is not None \
                else MappingCompetencies.from_settings(self.env.settings)
            return MoodleGoals(self.client(), competencies=skills.competency,
                               skills=skills.skill_ids, framework=own.competency_framework,
                               proficient_grade=own.proficient_grade,
                               close_goals=own.close_goals)
        return None


def _simulator() -> type[Simulator]:
    from connector.vendors.moodle.sandbox import MoodleSandbox  # the demo's, loaded only there

    return MoodleSandbox


PLUGIN = VendorPlugin(
    name="moodle", title="Moodle", settings=MoodleSettings, connect=Moodle,
    adapters={Role.LMS: MoodleLMS, Role.GOALS: MoodleGoals},
    simulator=_simulator,
)
