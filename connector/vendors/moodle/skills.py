"""Which Moodle competency stands for each skill: the `competency` of the skill's entry in the
admin's mapping file (`[[skills]] id = "negotiation" competency = 12`): the mapping the runtime
runs with, or (a vendor connected without one) the file CONNECTOR_MAPPING_FILE names, read
once, when the goal tracker first asks."""

from __future__ import annotations

import threading
from collections.abc import Callable

from connector.settings import Settings
from mappings.schema import Mapping


class MappingCompetencies:
    """Skill id → competency id, and the skills the rules use (for `check --online`)."""

    def __init__(self, load: Callable[[], Mapping]) -> None:
        self._load = load
        self._mapping: Mapping | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> MappingCompetencies:
        def load() -> Mapping:
            from connector.runtime import resolve_mapping_path  # the runtime's own rule
            from mappings.loader import load_mapping

            return load_mapping(resolve_mapping_path(settings))

        return cls(load)

    def mapping(self) -> Mapping:
        with self._lock:
            if self._mapping is None:
                self._mapping = self._load()
            return self._mapping

    def competency(self, skill_id: str) -> str | None:
        mapping = self.mapping()
        try:
            return mapping.skill(skill_id).competency
        except KeyError:
            return None

    def skill_ids(self) -> list[str]:
        """The skills some rule opens goals for, in rule order."""
        mapping = self.mapping()
        found: list[str] = []
        for rule in mapping.rules:
            skill = mapping.skill_id_for(rule.skill)
            if skill is not None and skill not in found:
                found.append(skill)
        return found
