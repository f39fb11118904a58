"""One person, several id spaces, against the simulators on both engines: OrangeHRM numbers
people 101…, BambooHR 5001…, TalentLMS 1101… (as the demo seeds them). Every BambooHR goal
lands on the record of the person with the same email, and a person BambooHR knows under
another email waits in `identities pending` with a clear reason, with no goal anywhere.
"""

from __future__ import annotations

import requests

from connector.demo.sandboxes import sandbox_settings, seed_organisation, start_sandboxes
from connector.operations.identities import pending_identities
from connector.pollers import poll_all
from connector.runtime import build_runtime
from connector.vendors.bamboohr.sandbox import ID_BASE
from connector.worker import Worker


def test_goals_land_on_the_bamboohr_record_with_the_same_email(database_url: str) -> None:
    sb = start_sandboxes()
    try:
        people = seed_organisation(sb, employees=6, missing_learners=0)
        stranger = people[0]  # BambooHR has them under another address
        requests.patch(f"{sb.bamboohr.url}/_sandbox/employees/{ID_BASE + stranger['id']}",
                       json={"workEmail": "someone.else@example.com"},
                       timeout=10).raise_for_status()
        rt = build_runtime(sandbox_settings(sb, database_url, max_assignment_share=1.0))
        try:
            report = poll_all(rt)
            assert report.errors == [] and report.reviews == 6
            stats = Worker(rt.ctx).drain()
            assert stats.dead == 0, stats.errors

            owners = sb.bamboohr.goal_owner_emails()
            assert owners  # goals were opened
            emails = {r.employee_id: r.email for r in rt.store.all_identities()}
            for key, owner_email in owners.items():
                assert owner_email == emails[key.split("/")[0]], key
            state = sb.bamboohr.state()
            assert {int(g["employeeId"]) for g in state["goals"]} <= {
                ID_BASE + p["id"] for p in people}

            sid = str(stranger["id"])
            assert not [k for k in owners if k.startswith(f"{sid}/")]
            waiting = {w.employee_id: w.match_note or "" for w in pending_identities(rt.store)}
            assert rt.store.goals_for(sid) == []
            assert sid in waiting, waiting
            assert "no BambooHR person has the email" in waiting[sid]
            assert stranger["email"] in waiting[sid]
            linked = rt.store.external_id(str(people[1]["id"]), "bamboohr")
            assert linked is not None and linked.external_id == str(ID_BASE + people[1]["id"])
        finally:
            rt.close()
    finally:
        sb.stop()
