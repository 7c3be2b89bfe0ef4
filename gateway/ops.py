"""Operations endpoints: `GET /metrics` (Prometheus text exposition, via prometheus-client), `GET /healthz`
(the process answers) and `GET /readyz` (it can serve quotes). `/v1/metrics/quote` (JSON) stays as it is.

Ready means: the worker task is running (the supervisor's view), and quotes have a source: the WebSocket
is connected with at least one acked subscription, or REST is usable (the gateway holds an unexpired
token). 200 when ready, 503 when not, with the parts and the reason in the JSON body either way.

Metrics are read from the gateway's `Metrics` when scraped (a custom collector on a registry of this app's
own, so two gateways in one process never share or collide). Label values are only our own names (stages,
sources) and KIS codes that look like codes (`OPSP0008`, `EGW00201`); anything else is counted under
`other`, so text from upstream can never put a secret into a label.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.metrics import STAGES

if TYPE_CHECKING:
    from gateway.app import Gateway

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
PREFIX = "kis_gateway_"


def _label(code: str) -> str:
    return code if _CODE.fullmatch(code) else "other"


class GatewayCollector(Collector):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def collect(self) -> Iterator[Metric]:
        m, now = self.gw.metrics.total(), self.gw.clock.now()  # every appkey session folded in
        gauges = {
            "ws_connected": ("1 while the KIS WebSocket is connected", float(m.ws_connected)),
            "ws_subscriptions": ("subscriptions acked on the current connection", m.ws_subscriptions),
            "worker_running": ("1 while the WebSocket worker task runs", float(m.worker_running)),
            "cached_symbols": ("symbols with a cached trade", len(self.gw.cache)),
            "ready": ("1 when /readyz answers 200", float(readiness(self.gw)["ready"])),
        }
        for name, (doc, value) in gauges.items():
            yield GaugeMetricFamily(PREFIX + name, doc, value=value)
        age = m.last_message_age(now)
        if age is not None:
            yield GaugeMetricFamily(
                PREFIX + "ws_last_message_age_seconds", "seconds since KIS last sent text", value=age
            )
        counters = {
            "ws_messages": ("data frames ingested", m.ws_messages),
            "ws_records": ("realtime records in them", m.ws_records),
            "ws_connects": ("WebSocket connections made", m.ws_connects),
            "ws_reconnects": ("WebSocket reconnections", m.ws_reconnects),
            "ws_pingpongs": ("PINGPONG heartbeats received", m.ws_pingpongs),
            "ws_malformed": ("frames that could not be decoded", m.ws_malformed),
            "worker_restarts": ("worker tasks restarted by the supervisor", m.worker_restarts),
            "rest_calls": ("REST calls made to KIS", m.rest_calls),
            "token_issuances": ("access tokens issued", m.token_issuances),
        }
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(PREFIX + name, doc, value=value)
        yield self._by("ws_refusals", "subscription refusals by KIS code", "code", m.ws_refusals)
        yield self._by("rest_errors", "REST errors by KIS code", "code", m.rest_errors)
        yield self._by("quotes_served", "quotes served by source", "source", m.source_counts)
        reached = GaugeMetricFamily(
            PREFIX + "stage_reached", "1 once the stage was reached", labels=["stage"]
        )
        for stage in STAGES:
            reached.add_metric([stage], float(stage in m.first))
        yield reached

    @staticmethod
    def _by(name: str, doc: str, label: str, counts: Any) -> CounterMetricFamily:
        family = CounterMetricFamily(PREFIX + name, doc, labels=[label])
        merged: dict[str, int] = {}
        for key, n in counts.items():
            merged[_label(str(key))] = merged.get(_label(str(key)), 0) + n
        for key, n in sorted(merged.items()):
            family.add_metric([key], n)
        return family


def readiness(gw: Gateway) -> dict[str, Any]:
    m, now = gw.metrics.total(), gw.clock.now()
    ws_ok = m.ws_connected and m.ws_subscriptions > 0
    rest_ok = gw.rest.token_valid(now)
    if not m.worker_running:
        reason = "the WebSocket worker is not running"
    elif not (ws_ok or rest_ok):
        reason = "no quote source: the WebSocket has no acked subscription and no REST token is held"
    else:
        reason = None
    return {
        "ready": reason is None,
        "reason": reason,
        "worker_running": m.worker_running,
        "ws_connected": m.ws_connected,
        "ws_subscriptions": m.ws_subscriptions,
        "rest_token": rest_ok,
    }


def routes(gw: Gateway) -> list[Route]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gw))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        body = readiness(gw)
        return JSONResponse(body, 200 if body["ready"] else 503)

    return [Route("/metrics", metrics), Route("/healthz", healthz), Route("/readyz", readyz)]
