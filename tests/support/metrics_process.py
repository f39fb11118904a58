"""One process of a multiprocess-metrics test: records some series, or scrapes them all.

    python -m tests.support.metrics_process record DATABASE_URL N
    python -m tests.support.metrics_process scrape DATABASE_URL

Run with PROMETHEUS_MULTIPROC_DIR set, as gunicorn workers and `connector worker` processes
are. `record` does what a receiver and a worker do (count N deliveries, N vendor calls and N
jobs, export the queue gauges) and exits; `scrape` answers `/metrics` through the receiver app
and prints it.
"""

from __future__ import annotations

import sys

from connector.observability.metrics import (
    export_queue,
    job_seconds,
    jobs_finished,
    observe_vendor_call,
    webhook_metrics,
)
from connector.settings import Settings
from connector.store import Store
from webhooks.app import create_app


def record(store: Store, times: int) -> None:
    export_queue(store)  # as every receiver process does; must not multiply the gauges
    receiver = webhook_metrics()
    for _ in range(times):
        receiver.received.labels("hr").inc()
        receiver.seconds.observe(0.002)
        observe_vendor_call("talentlms", 200, 0.05)
        job_seconds.labels("completion").observe(0.25)
        jobs_finished.labels("completion", "done").inc()


def scrape(store: Store) -> str:
    export_queue(store)
    app = create_app(settings=Settings(_env_file=None))  # no delivery: no inbox needed
    return app.test_client().get("/metrics").text


def main() -> int:
    mode, url = sys.argv[1], sys.argv[2]
    store = Store.open(url)
    try:
        if mode == "record":
            record(store, int(sys.argv[3]))
        else:
            sys.stdout.write(scrape(store))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
