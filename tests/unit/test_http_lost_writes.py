"""A write whose answer was lost is asked about again only after the vendor had time to finish.

Found by the end-to-end fault tests: a comment POST timed out, the vendor still created the
comment a moment later, and the job's quick retry asked "already posted?" before it existed,
so the comment was posted twice.
"""

from __future__ import annotations

import pytest
import requests
import responses

from connector.http import UNCERTAIN_WRITE_FACTOR, VendorConnectionError, VendorHttp

BASE = "https://vendor.example"


def client() -> VendorHttp:
    return VendorHttp("vendor", BASE, read_timeout=3.0, max_attempts=3, sleep=lambda _: None,
                      jitter=lambda: 0.0)


@responses.activate
def test_a_timed_out_write_asks_the_caller_to_wait_before_asking_again() -> None:
    responses.post(f"{BASE}/comments", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(VendorConnectionError) as raised:
        client().post_json("comments", operation="add comment", json={"text": "x"})
    assert raised.value.request_sent
    assert raised.value.retry_after == UNCERTAIN_WRITE_FACTOR * 3.0
    assert len(responses.calls) == 1  # never re-sent blindly


@responses.activate
def test_a_read_that_times_out_is_retried_at_once_and_asks_for_no_wait() -> None:
    responses.get(f"{BASE}/goals", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(VendorConnectionError) as raised:
        client().get_json("goals", operation="list goals")
    assert raised.value.retry_after is None
    assert len(responses.calls) == 3


@responses.activate
def test_a_write_that_never_left_asks_for_no_wait() -> None:
    responses.post(f"{BASE}/comments",
                   body=requests.exceptions.ConnectTimeout("no route"))
    with pytest.raises(VendorConnectionError) as raised:
        client().post_json("comments", operation="add comment", json={"text": "x"})
    assert not raised.value.request_sent
    assert raised.value.retry_after is None
