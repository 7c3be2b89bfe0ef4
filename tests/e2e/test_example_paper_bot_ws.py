"""The README's paper-trading example bot (examples/paper_bot.py), run as a real process against the
pytest plugin's fakekis: it buys on the bundled morning, gets its fill notice, reads its balance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fakekis.testing.handle import FakeKisHandle

BOT = Path(__file__).parents[2] / "examples" / "paper_bot.py"
pytestmark = pytest.mark.ws


@pytest.mark.fake_kis(hts_id="myhtsid", speed="1", start_cash=3_000_000)
def test_the_example_bot_buys_gets_its_notice_and_reads_its_balance(fake_kis: FakeKisHandle) -> None:
    fake_kis.account("50123456", holdings={"000660": (2, 180_000)})
    out = subprocess.run(
        [
            sys.executable,
            str(BOT),
            "--rest-url",
            fake_kis.rest_url,
            "--ws-url",
            fake_kis.ws_url,
            "--hts-id",
            "myhtsid",
            "--account",
            "50123456-01",
            "--symbol",
            "005930",
            "--qty",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    fills = fake_kis.fills()
    assert [(f["qty"], f["price"]) for f in fills] == [(f["qty"], f["price"]) for f in seen["fills"]]
    assert seen["held"] == 3 and sum(f["qty"] for f in fills) == 3
    spent = sum(f["qty"] * f["price"] for f in fills)
    assert seen["cash"] == 3_000_000 - spent
    (order,) = fake_kis.orders()
    assert (order["odno"], order["side"], order["filled"], order["amount"]) == (seen["odno"], "buy", 3, spent)
    assert fake_kis.account("50123456")["holdings"]["000660"]["qty"] == 2  # the seeded holding is untouched
