"""The two era tables (fakekis/wire/layouts.py, gateway/layouts.py) are deliberate duplicates: they
must agree with each other and with every real capture in tests/data/real-frames.jsonl.

What it catches: a field added, renamed or moved on one side only; an era start moved on one side;
a table whose names do not sit where the real frames carry the values (the price read from the
volume's position, the KMID block shifted by one); a dated capture whose width the table puts in
another era (a wrong era boundary); a real width no era has.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from conftest import real_frames
from fakekis.wire import layouts as fk
from gateway import codec
from gateway import layouts as gw

TRS = ("H0STCNT0", "H0STASP0")  # the TRs with real captures of their data
ALL_TRS = fk.trs()
# real-frames.jsonl `expected` keys -> field names (docs/kis/protocol.md §5.1, §5.2)
EXPECTED = {
    "H0STCNT0": {
        "symbol": "MKSC_SHRN_ISCD",
        "time": "STCK_CNTG_HOUR",
        "price": "STCK_PRPR",
        "sign": "PRDY_VRSS_SIGN",
        "change": "PRDY_VRSS",
        "change_rate": "PRDY_CTRT",
        "acml_vol": "ACML_VOL",
        "bsop_date": "BSOP_DATE",
    },
    "H0STASP0": {
        "symbol": "MKSC_SHRN_ISCD",
        "time": "BSOP_HOUR",
        "hour_cls_code": "HOUR_CLS_CODE",
        "askp1": "ASKP1",
        "bidp1": "BIDP1",
        "askp_rsqn1": "ASKP_RSQN1",
        "bidp_rsqn1": "BIDP_RSQN1",
        "total_askp_rsqn": "TOTAL_ASKP_RSQN",
        "total_bidp_rsqn": "TOTAL_BIDP_RSQN",
        "acml_vol": "ACML_VOL",
    },
}


def _captures() -> list[dict[str, Any]]:
    return [
        e
        for e in real_frames()
        if e["tr_id"] in TRS and e["kind"] == "ws data frame" and not e.get("truncated")
    ]


def _records(text: str) -> list[list[str]]:
    """Split by the count, as KIS defines it (a few lines of our own, not either side's parser)."""
    _, _, count, payload = text.split("|", 3)
    fields = payload.split("^")
    n = int(count)
    assert len(fields) % n == 0, "capture whose fields do not divide by its count"
    w = len(fields) // n
    return [fields[i * w : (i + 1) * w] for i in range(n)]


def _day(entry: dict[str, Any]) -> date | None:
    """The capture's day: BSOP_DATE for trades, else the `date` note when it is a plain day."""
    bsop = entry["expected"].get("bsop_date")
    if bsop:
        return date(int(bsop[:4]), int(bsop[4:6]), int(bsop[6:]))
    try:
        return date.fromisoformat(entry.get("date", "")[:10])
    except ValueError:
        return None


def test_both_sides_have_the_same_trs() -> None:
    assert set(fk.trs()) == set(gw.ERAS)


@pytest.mark.parametrize("tr_id", ALL_TRS)
def test_the_tables_agree(tr_id: str) -> None:
    mine = [(e.era, e.since, e.names) for e in fk.eras(tr_id)]
    theirs = [(e.label, e.since, e.names) for e in gw.ERAS[tr_id]]
    assert mine == theirs
    assert set(codec.KNOWN_WIDTHS[tr_id]) >= fk.widths(tr_id)  # the codec's recovery widths know every era
    assert len(fk.widths(tr_id)) == len(fk.eras(tr_id))  # a width identifies its era


def test_nxt_and_unified_trades_share_the_krx_columns_but_name_21_cntg_cls_code() -> None:
    """docs/kis/endpoints.md §C4: same 46 columns, #21 CNTG_CLS_CODE instead of CCLD_DVSN."""
    assert gw.ERAS["H0NXCNT0"] == gw.ERAS["H0UNCNT0"]
    for nx, st in zip(gw.ERAS["H0NXCNT0"], gw.ERAS["H0STCNT0"], strict=True):
        assert (nx.label, nx.since, nx.width) == (st.label, st.since, st.width)
        assert [i for i, (a, b) in enumerate(zip(nx.names, st.names, strict=True)) if a != b] == [21]
        assert nx.names[21] == "CNTG_CLS_CODE"


def test_eras_tile_time_and_change_on_the_documented_days() -> None:
    for tr_id in ALL_TRS:
        eras = fk.eras(tr_id)
        assert eras[0].since is None and eras[-1].until is None
        for a, b in zip(eras, eras[1:], strict=False):
            assert (
                a.until is not None and b.since is not None and b.since.toordinal() == a.until.toordinal() + 1
            )
            assert b.names[: a.width] == a.names  # eras only append
    cases = [
        ("H0STCNT0", date(2026, 9, 13), 46),
        ("H0STCNT0", date(2026, 9, 14), 47),
        ("H0STASP0", date(2025, 3, 3), 59),
        ("H0STASP0", date(2025, 3, 4), 62),
        ("H0STASP0", date(2026, 9, 21), 62),
        ("H0STASP0", date(2026, 9, 22), 63),
        ("H0STASP0", date(2030, 1, 1), 63),
    ]
    assert [fk.layout(tr, day).width for tr, day, _ in cases] == [w for _, _, w in cases]
    assert fk.layout("H0STASP0", date(2026, 9, 22)).names[-4:] == (
        "KMID_PRC",
        "KMID_TOTAL_RSQN",
        "KMID_CLS_CODE",
        "MARKET_CLS_CODE",
    )
    assert fk.layout("H0STCNT0", date(2026, 9, 14)).names[-1] == "MARKET_CLS_CODE"


def test_every_real_capture_has_an_era_width_and_its_day_agrees() -> None:
    seen: dict[str, set[int]] = {tr: set() for tr in TRS}
    for e in _captures():
        width = len(_records(e["text"])[0])
        seen[e["tr_id"]].add(width)
        lay = fk.by_width(e["tr_id"], width)
        assert lay is not None, f"{e['id']}: width {width} is in no era"
        day = _day(e)
        if day is not None and not e.get("doc_example"):
            assert lay.covers(day), f"{e['id']} ({day}) has {width} fields but the table says {lay.era}"
    # 63-field books are reported, never captured: the table holds them on the notes' word.
    assert seen == {"H0STCNT0": {46, 47}, "H0STASP0": {59, 62}}


@pytest.mark.parametrize("entry", _captures(), ids=lambda e: e["id"])
def test_both_sides_name_every_field_of_every_captured_era(entry: dict[str, Any]) -> None:
    tr_id, expected = entry["tr_id"], entry["expected"]
    records = _records(entry["text"])
    ev = codec.decode(entry["text"])
    assert isinstance(ev, codec.Frame) and ev.error is None and ev.count == len(records)
    era = gw.era(tr_id, ev.width)
    assert era is not None
    assert codec.to_json_lines(ev)[0]["era"] == era.label == fk.by_width(tr_id, ev.width).era  # type: ignore[union-attr]
    for i, rec in enumerate(records):
        mine = fk.named(tr_id, rec)
        theirs = ev.named(i)
        assert mine == theirs and not any(k.startswith("FIELD_") for k in theirs)
        want = expected["records"][i] if "records" in expected else expected
        for key, name in EXPECTED[tr_id].items():
            if key in want:
                assert theirs[name] == want[key], (entry["id"], name)
        if tr_id == "H0STASP0":
            asks = [int(theirs[f"ASKP{j}"]) for j in range(1, 11)]
            assert int(theirs["TOTAL_ASKP_RSQN"]) == sum(int(theirs[f"ASKP_RSQN{j}"]) for j in range(1, 11))
            assert asks == sorted(asks)
            if "KMID_PRC" in theirs:  # the mid block sits right after the 59 documented fields
                assert int(theirs["KMID_PRC"]) * 2 == asks[0] + int(theirs["BIDP1"])
        else:
            assert theirs.get("MARKET_CLS_CODE", "2") == "2"


def test_decode_names_the_uncaptured_63_field_book_and_flags_unknown_widths() -> None:
    """The 63-field book has no capture: build one from a real 62-field book plus the reported `2`."""
    book62 = next(e for e in _captures() if e["id"] == "kisreal-033")["text"]
    rec = codec.to_json_lines(codec.decode(book62 + "^2"))[0]
    assert rec["era"] == "2026-09" and rec["width"] == 63
    assert list(rec["fields"])[-4:] == ["KMID_PRC", "KMID_TOTAL_RSQN", "KMID_CLS_CODE", "MARKET_CLS_CODE"]  # type: ignore[call-overload]
    assert rec["fields"]["KMID_PRC"] == "65950"  # type: ignore[index]
    odd = codec.to_json_lines(codec.decode(book62 + "^2^7"))[0]
    assert odd["era"] is None and odd["fields"]["FIELD_63"] == "7"  # type: ignore[index]
