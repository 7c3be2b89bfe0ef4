"""Faults added and removed while fakekis runs (docs/faults.md, "Faults at runtime"): the HTTP API that
Toxiproxy users expect, and the pytest plugin's `add_fault` / `remove_fault` / `fault`."""

from __future__ import annotations

import httpx
import pytest

from conftest import APPKEY, SECRET
from fakekis import faults
from fakekis.serve.server import FakeKis
from fakekis.testing.handle import FakeKisHandle

pytestmark = pytest.mark.anyio
TOKEN = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}


async def test_post_get_delete_change_what_clients_see() -> None:
    async with FakeKis(None) as kis, httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
        assert (await http.get("/__fakekis/faults")).json() == {"faults": []}
        added = await http.post("/__fakekis/faults", json={"fault": "token-throttle", "times": 5})
        assert added.status_code == 201
        assert added.json()["added"] == [{"id": 1, "fault": "token-throttle", "f": "F7", "times": 5}]
        refused = await http.post("/oauth2/tokenP", json=TOKEN)  # acts at once, on the next call
        assert refused.status_code == 403 and refused.json()["error_code"] == "EGW00133"
        assert kis.stats("mock")["scenario"] == [{"fault": "token-throttle", "f": "F7", "times": 5}]
        assert (await http.post("/__fakekis/faults", json="drop, market-closed")).status_code == 201
        listed = (await http.get("/__fakekis/faults")).json()["faults"]
        assert [(x["id"], x["fault"]) for x in listed] == [
            (1, "token-throttle"),
            (2, "drop"),
            (3, "market-closed"),
        ]
        assert (await http.delete("/__fakekis/faults/1")).json() == {"removed": 1}
        assert (await http.post("/oauth2/tokenP", json=TOKEN)).status_code == 200  # healed
        assert (await http.delete("/__fakekis/faults")).json() == {"removed": 2}
        assert kis.envs["mock"].exchange.faults is None  # back on the no-fault hot path


async def test_a_fault_added_at_runtime_reaches_the_websocket_path() -> None:
    """The exchange skips the fault plug points while no fault is active: adding one must switch them on."""
    async with FakeKis(None) as kis:
        assert kis.envs["mock"].exchange.faults is None
        kis.add_fault(faults.MarketClosed())
        assert kis.envs["mock"].exchange.faults is kis.faults


@pytest.mark.parametrize(
    "body, needle",
    [
        (b'{"fault": "nope"}', "unknown fault 'nope'"),
        (b'{"fault": "latency", "latency_s": -1}', "latency_s: -1 is not allowed"),
        (b'{"fault": "slicer", "sise": 3}', "unknown parameter 'sise'"),
        (b"not json", "the body is not JSON"),
        (b"[]", "no faults given"),
        (b"42", "expected a list of faults"),
    ],
)
async def test_a_bad_body_is_a_one_line_400_and_adds_nothing(body: bytes, needle: str) -> None:
    async with FakeKis(None) as kis, httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
        r = await http.post("/__fakekis/faults", content=body)
        assert r.status_code == 400 and needle in r.json()["error"] and "\n" not in r.json()["error"]
        assert r.json()["error"].startswith("POST /__fakekis/faults")
        assert (await http.get("/__fakekis/faults")).json() == {"faults": []}


async def test_delete_an_unknown_or_bad_id() -> None:
    async with FakeKis(None) as kis, httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
        assert (await http.delete("/__fakekis/faults/7")).status_code == 404
        assert (await http.delete("/__fakekis/faults/x")).status_code == 400


async def test_control_paths_are_never_slowed() -> None:
    """With every REST answer held, the API that removes the fault still answers."""
    async with FakeKis(None) as kis, httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
        await http.post("/__fakekis/faults", json={"fault": "timeout", "on": "rest"})
        assert (await http.get("/__fakekis/faults", timeout=5)).status_code == 200
        assert (await http.delete("/__fakekis/faults", timeout=5)).json() == {"removed": 1}


def test_plugin_adds_and_removes_faults(fake_kis: FakeKisHandle) -> None:
    with httpx.Client(base_url=fake_kis.rest_url) as http:
        fault_id = fake_kis.add_fault("token-throttle", times=3)
        assert (
            http.post(
                "/oauth2/tokenP", json={**TOKEN, "appkey": fake_kis.appkey, "appsecret": fake_kis.appsecret}
            ).status_code
            == 403
        )
        assert [x["id"] for x in fake_kis.list_faults()] == [fault_id]
        assert fake_kis.remove_fault(fault_id) == 1 and fake_kis.list_faults() == []
        with fake_kis.fault("slow-rest", delay_s=0.0) as inner:
            assert [x["id"] for x in fake_kis.list_faults()] == [inner]
        assert fake_kis.list_faults() == []
        with pytest.raises(faults.ScenarioError, match="unknown parameter 'sise'"):
            fake_kis.add_fault("slicer", sise=3)
