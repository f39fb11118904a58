"""The sandboxes of the vendors a demo (or a test) runs with, found through the registry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.errors import ConfigError
from connector.sandbox.kit import Person, Simulator
from connector.settings import Settings, load_settings
from connector.vendors import registry
from connector.vendors.registry import Role

# The demo's cast is the product's default setup: whichever registered vendors the settings'
# defaults name for each part.
DEFAULT_ROLES = {role: str(Settings.model_fields[name].default)
                 for role, name in ((Role.LMS, "lms"), (Role.GOALS, "goal_tracker"),
                                    (Role.REVIEWS, "review_sources"))}


@dataclass
class Sandboxes:
    """Running sandboxes by vendor name; `sb.<vendor>` reads one (tests use that)."""

    sims: dict[str, Simulator]
    roles: dict[Role, str]

    def __getattr__(self, name: str) -> Simulator:
        sims = self.__dict__.get("sims", {})
        if name in sims:
            return sims[name]
        raise AttributeError(name)

    def playing(self, role: Role) -> Simulator:
        return self.sims[self.roles[role]]

    def titles(self) -> str:
        return ", ".join(registry.title(name) for name in self.sims)

    def stop(self) -> None:
        for sim in self.sims.values():
            sim.stop()

    @classmethod
    def at(cls, urls: dict[str, str], roles: dict[Role, str] | None = None) -> Sandboxes:
        """Sandboxes already running elsewhere (another process), by vendor name."""
        return cls({name: _simulator(name)(url) for name, url in urls.items()},
                   dict(roles or DEFAULT_ROLES))


def _simulator(name: str) -> type[Simulator]:
    plugin = registry.get(name)
    if plugin.simulator is None:
        raise ConfigError(f"{plugin.title} has no sandbox to run the demo with")
    return plugin.simulator()


def demo_roles(cast: dict[str, str | None]) -> dict[Role, str]:
    """The demo's cast: the defaults, with the parts named in `cast` (by role value: `lms`,
    `goals`, `reviews`) played by those vendors. Every wrong choice is named at once, with the
    vendors that could play that part."""
    roles = dict(DEFAULT_ROLES)
    problems: list[str] = []
    for part, name in cast.items():
        if not name:
            continue
        role = Role(part)
        able = sorted(p.name for p in registry.plugins()
                      if p.plays(role) and p.simulator is not None)
        if name not in able:
            problems.append(f"--{part} {name}: no registered vendor with a sandbox plays the "
                            f"{part} part by that name; choose one of {', '.join(able)}")
            continue
        roles[role] = name
    if problems:
        raise ConfigError("; ".join(problems))
    return roles


def start_sandboxes(roles: dict[Role, str] | None = None) -> Sandboxes:
    """Start the sandbox of every vendor in the cast, each once."""
    cast = dict(roles or DEFAULT_ROLES)
    sims: dict[str, Simulator] = {}
    try:
        for name in dict.fromkeys(cast.values()):
            sims[name] = _simulator(name).start()
    except BaseException:
        for sim in sims.values():
            sim.stop()
        raise
    return Sandboxes(sims, cast)


def sandbox_settings(sb: Sandboxes, database_url: str, mapping_file: Path | None = None,
                     **extra: Any) -> Settings:
    """Settings that point the real product at the sandboxes."""
    values: dict[str, Any] = {"database_url": database_url}
    for sim in sb.sims.values():
        values.update(sim.settings())
    values.update(lms=sb.roles[Role.LMS], goal_tracker=sb.roles[Role.GOALS],
                  review_sources=sb.roles[Role.REVIEWS])
    if mapping_file is not None:
        values["mapping_file"] = mapping_file
    return load_settings(**{**values, **extra})


def people_dicts(people: Iterable[Person]) -> list[dict[str, Any]]:
    return [{"id": p.id, "first": p.first, "last": p.last, "email": p.email, "role": p.role}
            for p in people]


def seed_organisation(sb: Sandboxes, *, employees: int = 60, seed: int = 7,
                      missing_learners: int = 2) -> list[dict[str, Any]]:
    """Seed the demo's organisation into every sandbox; the people, as plain rows."""
    from connector.demo.org import make_org

    org = make_org(employees=employees, seed=seed, missing_learners=missing_learners)
    for sim in sb.sims.values():
        sim.seed(org)
    return people_dicts(org.people)
