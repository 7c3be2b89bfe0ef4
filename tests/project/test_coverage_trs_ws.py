"""Every TR of the TR table (fakekis/exchange/trs.py) is acked where the table says it is served (on that
environment, and modelled) and refused elsewhere: the claim docs/coverage.md makes for each TR, checked for each TR."""

from __future__ import annotations

import json

import pytest

from fakekis.exchange.actions import Reply, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Exchange
from fakekis.exchange.trs import TRS, Key, Status, status
from gateway.session import subscribe_message

pytestmark = pytest.mark.ws


@pytest.mark.parametrize("env", ["live", "mock"])
@pytest.mark.parametrize("tr_id", sorted(TRS))
def test_every_tr_in_the_table_is_acked_where_served(env: str, tr_id: str) -> None:
    reg = Registry(env)
    body = {"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180}
    key = str(reg.issue_approval(body)[1]["approval_key"])
    tr = TRS[tr_id]
    tr_key = {Key.STOCK: "005930", Key.HTS_ID: "myhts", Key.OTHER: "0001"}[tr.key]
    reply = Exchange(reg).open().receive(subscribe_message(key, tr_id, tr_key))[0]
    assert isinstance(reply, Reply)
    code = json.loads(encode(reply))["body"]["msg_cd"]
    assert (code == "OPSP0000") == (status(tr_id, env) is Status.SERVED), (tr_id, env, code)
