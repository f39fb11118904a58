"""`connector serve` polls each stream on its own thread: one slow vendor delays only its own
work. (Before, with BambooHR answering after 20 s, a TalentLMS completion took 20.7 s instead
of 1.5 s to reach the inbox.)"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from connector.demo.sandboxes import sandbox_settings, seed_organisation, start_sandboxes
from connector.models import LearnerRef
from connector.runtime import build_runtime
from connector.service import Service

SLOW_DIRECTORY_MS = 3000


def test_a_slow_directory_does_not_hold_up_completions(tmp_path: Path) -> None:
    sb = start_sandboxes()
    try:
        seed_organisation(sb, employees=4)
        rt = build_runtime(sandbox_settings(sb, f"sqlite:///{tmp_path / 'c.db'}"))
        lms = rt.lms
        assert lms is not None and rt.directory is not None
        lms.enroll(LearnerRef(lms_user_id="1103"), "101")
        requests.post(f"{sb.bamboohr.url}/_sandbox/faults",
                      json={"latency_ms": SLOW_DIRECTORY_MS}, timeout=10).raise_for_status()
        service = Service(rt, port=0, poll_seconds=0.3)
        service.start()
        try:
            time.sleep(0.5)  # the directory read is under way, and will take 3 s
            sb.talentlms.complete("1103", "101", passed=True, score=90)
            started = time.monotonic()
            while rt.store.inbox_count("talentlms") == 0:
                assert time.monotonic() - started < SLOW_DIRECTORY_MS / 2000, \
                    "the completion waited for the slow directory read"
                time.sleep(0.05)
        finally:
            service.stop()
            rt.close()
    finally:
        sb.stop()
