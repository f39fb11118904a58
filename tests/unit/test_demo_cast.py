"""`connector demo --lms/--goals/--reviews`: the cast is checked against the registry."""

import pytest

from connector.demo.sandboxes import DEFAULT_ROLES, demo_roles
from connector.errors import ConfigError
from connector.vendors.registry import Role


def test_no_choice_plays_the_defaults() -> None:
    assert demo_roles({"lms": None, "goals": None, "reviews": None}) == DEFAULT_ROLES


def test_a_named_vendor_plays_its_part() -> None:
    roles = demo_roles({"goals": "orangehrm"})
    assert roles[Role.GOALS] == "orangehrm"
    assert roles[Role.LMS] == DEFAULT_ROLES[Role.LMS]


def test_every_wrong_choice_is_named_at_once_with_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        demo_roles({"lms": "bamboohr", "goals": "nope"})
    message = str(caught.value)
    assert "--lms bamboohr" in message and "--goals nope" in message
    assert "talentlms" in message and "orangehrm" in message
