"""When the console has no LMS, or the LMS fails, the identity pages say so plainly and still
answer 200 (suggestions) or refuse nothing silently (a link is made, marked not checked)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from connector.console import create_app
from connector.errors import RetriableAPIError
from connector.models import Employee, LearnerRef
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping
from tests.console.conftest import EXAMPLE_MAPPING, SECRET_KEY, Users, seed, sign_in


class DownLMS:
    """An LMS (a fake vendor) whose every read times out."""

    name = "fakelms"
    creates_learners = False

    def find_learner(self, employee: Employee) -> LearnerRef | None:
        raise RetriableAPIError("read timed out", vendor="fakelms", operation="find learner")

    def learner(self, lms_user_id: str) -> LearnerRef | None:
        raise RetriableAPIError("read timed out", vendor="fakelms", operation="learner")


def app_with(store: Store, lms: object) -> Flask:
    seed(store)
    settings = Settings(_env_file=None, console_secret_key=SECRET_KEY)  # type: ignore[call-arg]
    return create_app(store, settings, users=Users().directory(),
                      mapping=lambda: load_mapping(EXAMPLE_MAPPING), lms=lambda: lms)


def signed_in(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, sign_in(client, "olga")


def test_without_an_lms_the_suggestions_page_says_so(store: Store) -> None:
    client, _ = signed_in(app_with(store, None))
    answer = client.get("/console/identities/E1/suggestions")
    assert answer.status_code == 200
    assert "No LMS is configured (CONNECTOR_LMS=none)" in answer.get_data(as_text=True)


def test_an_lms_that_fails_is_said_in_plain_words(store: Store) -> None:
    client, token = signed_in(app_with(store, DownLMS()))
    page = client.get("/console/identities/E1/suggestions").get_data(as_text=True)
    assert "The LMS could not be asked: The vendor did not answer in time." in page
    answer = client.post("/console/identities/E1/link",
                         data={"csrf_token": token, "lms_user_id": "u41"},
                         follow_redirects=True)
    assert answer.status_code == 200
    assert "E1 was not linked: the LMS could not be asked" in answer.get_data(as_text=True)
    assert store.audit_events("identity.linked") == []
