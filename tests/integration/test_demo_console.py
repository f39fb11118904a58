"""`connector demo --keep-running` leaves the operator console up, with a sign-in made for
that run, so a new user sees the whole loop in a browser."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

from connector.demo.org import course_catalogue


def test_the_kept_demo_prints_a_console_sign_in_that_works(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "demo", "--keep-running", "--employees", "6",
         "--quiet"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        found = None
        deadline = time.monotonic() + 120
        while found is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"operator console: (\S+) — sign in as (\S+) with password (\S+)",
                              line)
        assert found, "the demo printed no console sign-in"
        url, name, password = found.groups()
        session = requests.Session()
        page = session.get(f"{url}/sign-in", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        signed = session.post(f"{url}/sign-in", data={
            "csrf_token": token.group(1), "name": name, "password": password, "next": ""},
            timeout=10)
        assert signed.status_code == 200 and "Overview" in signed.text
        assert "course assignment" in signed.text  # the demo's work shows on the overview
        # Courses by the titles the worker read from the LMS catalogue, not by their ids.
        reports = session.get(f"{url}/reports/funnel-by-course.csv", timeout=10).text
        catalogue = course_catalogue()
        rows = list(csv.reader(io.StringIO(reports)))[1:]
        assert rows and all(row[1] == catalogue[row[0]] for row in rows), reports
        people = session.get(f"{url}/people", timeout=10).text
        links = sorted(set(re.findall(r'href="(/console/people/[^"]+)"', people)))
        assert links, "the people page links nobody"
        stories = [session.get(urljoin(url, link), timeout=10).text for link in links]
        assert any(f"{title} <small>({cid})</small>" in story
                   for story in stories for cid, title in catalogue.items())
        wrong = requests.Session()
        page = wrong.get(f"{url}/sign-in", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        refused = wrong.post(f"{url}/sign-in", data={
            "csrf_token": token.group(1), "name": name, "password": "not-it", "next": ""},
            timeout=10)
        assert "Overview" not in refused.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
