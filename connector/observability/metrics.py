"""Every series the connector exports, on `prometheus_client`, and how a process serves them.

Two kinds of number, kept apart on purpose:

- Counters and histograms recorded as things happen (deliveries, vendor calls, jobs). They live
  in the process that did the work. With `PROMETHEUS_MULTIPROC_DIR` set (before the process
  starts), prometheus_client writes them to per-process files in that directory and a scrape
  sums every process's files, so several gunicorn workers or `connector worker` processes
  sharing the directory add up exactly.
- Gauges read from the database at scrape time (jobs by state, the oldest pending job's age):
  the same in every process, so a custom collector (`QueueCollector`) reads the store once per
  scrape and they appear once, never as per-process gauges to be summed.

Label values come from a small known set (source names from config, vendor and job kind
names): never put a URL segment or a payload value in a label, or a caller can grow the series
without bound.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.store import Store

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_PLAIN_0_0_4
"""Prometheus text format 0.0.4, what `/metrics` has always answered."""

JOB_STATES = ("pending", "running", "done", "dead")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `_created` series double every counter's output and do not exist in multiprocess mode; leave
# them out everywhere so a scrape looks the same in both modes.
prometheus_client.disable_created_metrics()


def multiprocess_dir() -> str | None:
    """The shared metrics directory when this process runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


if (_dir := multiprocess_dir()) is not None:
    # prometheus_client opens its files there as soon as a series is made; a missing directory
    # would fail on the first delivery or job instead of at start-up.
    os.makedirs(_dir, exist_ok=True)

METRICS = CollectorRegistry()
"""Where this process's counters and histograms are defined (their values, in multiprocess
mode, are in the shared directory instead)."""


# -- the series every process records -------------------------------------------------------
vendor_calls = Counter("connector_vendor_calls", "Vendor HTTP calls by status",
                       ("vendor", "status"), registry=METRICS)
vendor_call_seconds = Histogram("connector_vendor_call_seconds", "Vendor call latency",
                                ("vendor",), registry=METRICS)
job_seconds = Histogram("connector_job_seconds", "Job run time", ("kind",), registry=METRICS)
jobs_finished = Counter("connector_jobs_finished", "Jobs finished by outcome",
                        ("kind", "outcome"), registry=METRICS)


def observe_vendor_call(vendor: str, status: int | None, seconds: float) -> None:
    """The HTTP client's observer: one call to `vendor`, its status (None: no answer)."""
    vendor_calls.labels(vendor, str(status) if status is not None else "error").inc()
    vendor_call_seconds.labels(vendor).observe(seconds)


class WebhookMetrics:
    """The receiver's series, registered on `registry` (build them with `webhook_metrics`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter("events_received", "Webhook deliveries received, by source.",
                                ("source",), registry=registry)
        self.rejected = Counter("events_rejected",
                                "Webhook deliveries refused, by source and reason.",
                                ("source", "reason"), registry=registry)
        self.stored = Counter(
            "events_stored",
            "Events handed to the inbox, by source and result (accepted, duplicate, ignored).",
            ("source", "result"), registry=registry)
        self.seconds = Histogram("webhook_dispatch_seconds",
                                 "Time to verify, parse and store one delivery.",
                                 registry=registry)


_webhook_metrics: weakref.WeakKeyDictionary[CollectorRegistry, WebhookMetrics] = (
    weakref.WeakKeyDictionary())
_webhook_lock = threading.Lock()


def webhook_metrics(registry: CollectorRegistry | None = None) -> WebhookMetrics:
    """The receiver's series on `registry` (default `METRICS`), made once per registry: a
    registry refuses a name twice, and an app built twice in one process shares its series."""
    registry = registry or METRICS
    with _webhook_lock:
        found = _webhook_metrics.get(registry)
        if found is None:
            found = _webhook_metrics[registry] = WebhookMetrics(registry)
        return found


# -- gauges read from the store at scrape time ----------------------------------------------
@dataclass(eq=False)  # a registry keys its collectors by identity
class QueueCollector(Collector):
    """Jobs by state and the oldest pending job's age, read once per scrape.

    Registered on the registry a scrape reads (not as per-process gauges), so with many
    processes the values still appear once. `store()` gives the store at scrape time (a
    receiver opens its store on first use); a store that cannot answer leaves the gauges out
    of that scrape rather than failing it.
    """

    store: Callable[[], Store]

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check up front, and no database read at registration

    def collect(self) -> Iterable[Metric]:
        try:
            jobs = self.store().jobs
            counts = jobs.counts()
            oldest = jobs.oldest_pending_age()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            return []
        families: list[Metric] = [
            GaugeMetricFamily(f"connector_jobs_{state}", f"Jobs in state {state}",
                              value=float(counts.get(state, 0)))
            for state in JOB_STATES]
        families.append(GaugeMetricFamily(
            "connector_jobs_oldest_pending_seconds",
            "Age of the oldest pending job (0 when none is pending)",
            value=float(oldest or 0.0)))
        return families


_queue_collectors: weakref.WeakKeyDictionary[CollectorRegistry, QueueCollector] = (
    weakref.WeakKeyDictionary())
_queue_lock = threading.Lock()


def export_queue(store: Store | Callable[[], Store],
                 registry: CollectorRegistry | None = None) -> None:
    """Serve the queue gauges of `store` (or of the store `store()` opens when scraped) on
    `registry`, default this process's scrape registry.

    Calling it again (an app built twice) points the same collector at the newer store."""
    registry = registry or scrape_registry()
    get_store: Callable[[], Store] = store if callable(store) else (lambda: store)
    with _queue_lock:
        collector = _queue_collectors.get(registry)
        if collector is None:
            collector = _queue_collectors[registry] = QueueCollector(get_store)
            registry.register(collector)
        else:
            collector.store = get_store


# -- what a scrape reads --------------------------------------------------------------------
def build_scrape_registry(multiproc_dir: str | None) -> CollectorRegistry:
    """`METRICS` itself, or in multiprocess mode a registry that sums the shared directory."""
    if multiproc_dir is None:
        return METRICS
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
    return registry


_scrape: CollectorRegistry | None = None
_scrape_lock = threading.Lock()


def scrape_registry() -> CollectorRegistry:
    """The registry this process's `/metrics` (or metrics port) serves."""
    global _scrape  # one per process, made on first use
    with _scrape_lock:
        if _scrape is None:
            _scrape = build_scrape_registry(multiprocess_dir())
        return _scrape


def exposition(registry: CollectorRegistry | None = None) -> bytes:
    """The text a scrape answers (format 0.0.4)."""
    return prometheus_client.generate_latest(registry or scrape_registry())


def serve_worker_metrics(store: Store, port: int, host: str = "127.0.0.1") -> str:
    """Serve this process's metrics and `store`'s queue gauges on their own port, for a
    process without HTTP (`connector worker`); the URL it answers on (port 0: a free one).

    Loopback by default: the series name vendors and job kinds, and are for a local scraper."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"metrics port must be 0-65535, got {port}")
    export_queue(store)
    try:
        server, _thread = prometheus_client.start_http_server(port, addr=host,
                                                              registry=scrape_registry())
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    return f"http://{host}:{server.server_port}/metrics"


def mark_process_dead(pid: int) -> None:
    """Gunicorn's `child_exit`: drop a dead worker's live files (a no-op outside multiprocess
    mode; counters stay, so totals keep what the dead process counted)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)
