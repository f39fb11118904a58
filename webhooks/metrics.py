"""A tiny, thread-safe Prometheus registry and text exposition (format 0.0.4), no dependency.

Counters, histograms and callback gauges are enough for the receiver, the vendor calls and
the job queue. Label values must come from a small known set (source names from config, vendor
operation names): never put a URL segment or a payload value in a label, or an attacker can
grow the registry without bound.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A number that only goes up, one series per label combination."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in items]


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(float(b) for b in buckets if not math.isinf(b)))
        self._series: dict[LabelValues, list[float]] = {}  # bucket counts…, +Inf, sum

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            series = self._series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += 1
            series[-1] += value

    def count(self, **labels: str) -> float:
        with self._lock:
            series = self._series.get(self._key(labels))
            return series[-2] if series else 0.0

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        lines = []
        for key, series in items:
            for bound, count in zip((*self.buckets, math.inf), series[:-1], strict=True):
                le = _labels(self.label_names, key, f'le="{_number(bound)}"')
                lines.append(f"{self.name}_bucket{le} {_number(count)}")
            plain = _labels(self.label_names, key)
            lines.append(f"{self.name}_sum{plain} {_number(series[-1])}")
            lines.append(f"{self.name}_count{plain} {_number(series[-2])}")
        return lines


class GaugeCallback(_Metric):
    """A gauge read at scrape time (queue depth, dead letters); a failing callback is skipped."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, fn: Callable[[], float]) -> None:
        super().__init__(name, help_text, ())
        self.fn = fn

    def samples(self) -> list[str]:
        try:
            value = float(self.fn())
        except Exception:  # noqa: BLE001 - a scrape must not fail because one gauge's source is down
            return []
        return [f"{self.name} {_number(value)}"]


class Registry:
    """Named metrics. Registering an existing name again returns the same metric (so an app
    built twice in one process shares its series) provided the kind and labels agree."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _get_or_add(self, metric: _Metric) -> _Metric:
        with self._lock:
            existing = self._metrics.get(metric.name)
            if existing is None:
                self._metrics[metric.name] = metric
                return metric
        if type(existing) is not type(metric) or existing.label_names != metric.label_names:
            raise ValueError(f"metric {metric.name} is already registered differently")
        return existing

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        metric = self._get_or_add(Counter(name, help_text, labels))
        assert isinstance(metric, Counter)  # noqa: S101 - _get_or_add checked the type
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        labels: Sequence[str] = (),
    ) -> Histogram:
        metric = self._get_or_add(Histogram(name, help_text, buckets, labels))
        assert isinstance(metric, Histogram)  # noqa: S101 - _get_or_add checked the type
        return metric

    def gauge_callback(self, name: str, help_text: str, fn: Callable[[], float]) -> GaugeCallback:
        """Register (or replace the callback of) a gauge computed on each scrape."""
        metric = self._get_or_add(GaugeCallback(name, help_text, fn))
        assert isinstance(metric, GaugeCallback)  # noqa: S101 - _get_or_add checked the type
        metric.fn = fn
        return metric

    def render(self) -> str:
        with self._lock:
            metrics = sorted(self._metrics.values(), key=lambda m: m.name)
        lines: list[str] = []
        for metric in metrics:
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
"""The process-wide registry that `/metrics` serves by default."""


def counter(name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
    return REGISTRY.counter(name, help_text, labels)


def histogram(
    name: str,
    help_text: str,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
    labels: Sequence[str] = (),
) -> Histogram:
    return REGISTRY.histogram(name, help_text, buckets, labels)


def gauge_callback(name: str, help_text: str, fn: Callable[[], float]) -> GaugeCallback:
    return REGISTRY.gauge_callback(name, help_text, fn)


def render() -> str:
    return REGISTRY.render()


class WebhookMetrics:
    """The receiver's own series, registered on `registry`."""

    def __init__(self, registry: Registry | None = None) -> None:
        registry = registry or REGISTRY
        self.received = registry.counter(
            "events_received_total", "Webhook deliveries received, by source.", ["source"]
        )
        self.rejected = registry.counter(
            "events_rejected_total",
            "Webhook deliveries refused, by source and reason.",
            ["source", "reason"],
        )
        self.stored = registry.counter(
            "events_stored_total",
            "Events handed to the inbox, by source and result (accepted, duplicate, ignored).",
            ["source", "result"],
        )
        self.seconds = registry.histogram(
            "webhook_dispatch_seconds", "Time to verify, parse and store one delivery."
        )
