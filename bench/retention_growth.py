"""How much an SQLite file grows per delivery, and what `connector prune` gives back.

10,000 LMS completion deliveries (a ~1.5 KB raw body each, its parsed copy, its job run to
done and an audit row, as the receiver and the worker leave them) into a fresh SQLite file;
then the file's size after `prune`, after 10,000 more deliveries, and after `prune --vacuum`.
Pruning empties rows in place: SQLite appends new rows at the end of each table, so the
space inside emptied pages is not reused by later deliveries and only `VACUUM` gives it back
(PostgreSQL's autovacuum reuses it by itself). A figure for docs/production.md, not a timed test.

    .venv/bin/python bench/retention_growth.py [--events 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # not webhooks.py

from connector.models import utcnow  # noqa: E402
from connector.operations.retention import prune  # noqa: E402
from connector.settings import load_settings  # noqa: E402
from connector.store import Store  # noqa: E402


def deliver(store: Store, start: int, count: int) -> None:
    for n in range(start, start + count):
        body = {"type": "course.completed", "timestamp": utcnow().isoformat(),
                "data": {"user_id": str(1000 + n % 500), "course_id": str(100 + n % 40),
                         "completed_at": utcnow().isoformat(), "score": 90,
                         "certificate_url": f"https://lms.example/cert/{n}",
                         "note": "x" * 1100}}
        raw = json.dumps(body).encode()
        store.ingest("lms", f"msg_{n}", "completion", {"completion": body["data"]}, raw)
        job = store.jobs.claim("bench")
        if job is not None:
            store.jobs.complete(job)
        store.audit(None, None, "completion.unmatched",
                    f"completion msg_{n} for an unknown learner {1000 + n % 500}: kept, "
                    "no goal links its course", cause={"event": f"msg_{n}"}, ref=f"lms:msg_{n}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "growth.db"
    url = f"sqlite:///{path}"
    store = Store.open(url)
    settings = load_settings(database_url=url)
    later = utcnow() + timedelta(days=400)

    def size() -> str:
        wal = path.with_name(path.name + "-wal")
        total = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return f"{total / 1e6:.1f} MB (file and WAL)"

    print(f"empty database: {size()}")
    deliver(store, 0, args.events)
    print(f"after {args.events} deliveries: {size()}")
    result = prune(store, settings, by="bench", now=later)
    print(f"after prune ({result.total} rows emptied): {size()}")
    deliver(store, args.events, args.events)
    print(f"after {args.events} more deliveries (into the emptied pages): {size()}")
    prune(store, settings, by="bench", now=later)
    started = time.monotonic()
    prune(store, settings, by="bench", now=later, vacuum=True)
    print(f"after prune --vacuum: {size()} (VACUUM took {time.monotonic() - started:.1f} s)")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
