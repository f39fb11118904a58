"""Notifications reach a real local SMTP server and a real local webhook receiver, once per
occurrence per channel, however many rounds, restarts or processes run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.errors import ConfigError
from connector.models import Employee
from connector.notifications import Notifier
from connector.notifications.channels import EmailChannel, WebhookChannel, channels_from
from connector.settings import Settings
from connector.store import MatchState, Store
from tests.support.ledger_states import dead_letter
from tests.support.notify_receivers import Hook, Mailbox


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


def waiting_person(store: Store, eid: str) -> None:
    store.upsert_employee(Employee(employee_id=eid, email=f"{eid}@example.com",
                                   first_name="Grace", last_name="Hopper"))
    store.set_identity(eid, state=MatchState.PENDING, note="no LMS user with this email")


def notifier(store: Store, *channels: Any, **kw: Any) -> Notifier:
    return Notifier(store, channels, console_url="https://connector.example.com/", **kw)


def test_each_occurrence_is_sent_once_with_a_link_to_its_page(store: Store, hook: Hook) -> None:
    waiting_person(store, "E7")
    job_id = dead_letter(store)
    first = notifier(store, WebhookChannel(hook.url)).run_once()
    assert first.sent == {"webhook:dead_letter": 1, "webhook:identity": 1}
    texts = hook.texts()
    assert any(f"job #{job_id}" in t and "https://connector.example.com/console/dead-letters"
               in t for t in texts)
    assert any("employee E7" in t and "/console/identities" in t for t in texts)
    # Names and addresses stay out of chat rooms.
    assert not any("Grace" in t or "@example.com" in t for t in texts)

    again = notifier(store, WebhookChannel(hook.url)).run_once()  # a restart: a new notifier
    assert again.sent == {} and len(hook.bodies) == 2

    second = dead_letter(store)
    assert notifier(store, WebhookChannel(hook.url)).run_once().sent == {"webhook:dead_letter": 1}
    assert f"job #{second}" in hook.texts()[-1] and f"job #{job_id}" not in hook.texts()[-1]


def test_a_failed_send_is_tried_again_next_round(store: Store, hook: Hook) -> None:
    dead_letter(store)
    hook.status = 500
    failed = notifier(store, WebhookChannel(hook.url)).run_once()
    assert failed.sent == {} and len(failed.failed) == 1
    assert "127.0.0.1 answered 500" in failed.failed[0]
    assert "s3cr3t" not in failed.failed[0]  # the webhook's path is its secret
    hook.status = 200
    assert notifier(store, WebhookChannel(hook.url)).run_once().sent == {"webhook:dead_letter": 1}


def test_each_channel_keeps_its_own_record(store: Store, hook: Hook,
                                           mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    waiting_person(store, "E9")
    email = EmailChannel(host="127.0.0.1", port=port, starttls=False,
                         sender="connector@example.com", recipients=["hr@example.com"])
    hook.status = 503  # chat is down, e-mail works: e-mail is sent, chat tried again later
    first = notifier(store, WebhookChannel(hook.url), email).run_once()
    assert first.sent == {"email:identity": 1}
    [mail] = box.messages
    assert "Subject: [skillgap connector] 1 employee waiting for an identity match" in mail
    assert "https://connector.example.com/console/identities" in mail
    hook.status = 200
    second = notifier(store, WebhookChannel(hook.url), email).run_once()
    assert second.sent == {"webhook:identity": 1} and len(box.messages) == 1


def test_two_processes_send_an_occurrence_once(store: Store, hook: Hook,
                                               database_url: str) -> None:
    for n in range(5):
        waiting_person(store, f"E{n}")
    other = Store.open(database_url)
    try:
        rounds = [notifier(s, WebhookChannel(hook.url)) for s in (store, other)]
        threads = [threading.Thread(target=r.run_once) for r in rounds]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    listed = [line for t in hook.texts() for line in t.splitlines() if line.startswith("- ")]
    assert sorted(listed) == [f"- employee E{n}" for n in range(5)]


def test_a_poller_is_failing_only_after_the_grace(store: Store, hook: Hook) -> None:
    store.save_cursor("bamboohr.directory", "c1")
    store.cursor_failed("bamboohr.directory", "bamboohr: authentication refused (401)")
    now = datetime.now(UTC)
    soon = notifier(store, WebhookChannel(hook.url), poller_grace_seconds=600,
                    clock=(now + timedelta(seconds=60)).timestamp).run_once()
    assert soon.sent == {}
    late = notifier(store, WebhookChannel(hook.url), poller_grace_seconds=600,
                    clock=(now + timedelta(seconds=700)).timestamp).run_once()
    assert late.sent == {"webhook:poller": 1}
    assert "authentication refused (401)" in hook.texts()[-1]


def test_bad_notification_settings_are_named_all_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(notify_smtp_host="smtp.example.com", notify_email_to="not-an-address",
                 notify_webhook_url="http://hooks.example.com/x")
    message = str(caught.value)
    for variable in ("CONNECTOR_NOTIFY_EMAIL_FROM", "CONNECTOR_NOTIFY_EMAIL_TO",
                     "CONNECTOR_NOTIFY_WEBHOOK_URL"):
        assert variable in message
    assert "hooks.example.com/x" not in message


def test_no_channel_configured_means_notifications_are_off() -> None:
    assert channels_from(Settings()) == []
    both = channels_from(Settings(notify_webhook_url="https://hooks.example.com/x",
                                  notify_smtp_host="smtp.example.com",
                                  notify_email_from="c@example.com",
                                  notify_email_to="a@example.com, b@example.com"))
    assert [c.name for c in both] == ["webhook", "email"]
    assert "hooks.example.com/x" not in repr(both)
