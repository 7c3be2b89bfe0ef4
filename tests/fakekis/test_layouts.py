"""Layouts by era on fakekis's side: the generator writes the layout of the tape's day (or the one
asked for), the `--layout` flag, and the `field-drift` fault's width.

What it catches: a generator that writes one fixed layout whatever the date (the bug of issue #13:
a 2026-11 tape in the layout KIS retired in September); extra fields that disturb the base fields (a
seed must give the same trades in every era); a `--layout` typo that is ignored or crashes instead of
exiting 2 with one line; a drift fault whose width a real era has (then it tests nothing: a
careful client would accept it as a real layout).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from fakekis import cli, faults, tape
from fakekis.exchange.actions import Data
from fakekis.tape import synth
from fakekis.wire import frames, layouts
from gateway import layouts as gateway_layouts
from kisclock import KST

START = datetime(2026, 11, 25, 9, 30, tzinfo=KST)
BASE = {"H0STCNT0": 46, "H0STASP0": 59}


def _widths(lines: list[tape.WsLine]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for ln in lines:
        if ln.dir == "recv" and ln.text and ln.text.startswith("0|"):
            _, tr, n, payload = ln.text.split("|", 3)
            out.setdefault(tr, set()).add(len(payload.split("^")) // int(n))
    return out


def _base(text: str) -> str:
    """A data frame cut back to the oldest layout (46/59 fields per record)."""
    if not text.startswith("0|"):
        return text
    _, tr, n, payload = text.split("|", 3)
    fields, count = payload.split("^"), int(n)
    w = len(fields) // count
    return frames.data_frame(tr, [fields[i * w : i * w + BASE[tr]] for i in range(count)])


@pytest.mark.parametrize(
    ("choice", "want"),
    [
        ("pre-nxt", {"H0STCNT0": {46}, "H0STASP0": {59}}),
        ("2025", {"H0STCNT0": {46}, "H0STASP0": {62}}),
        ("2026-09", {"H0STCNT0": {47}, "H0STASP0": {63}}),
        ("2026-09-15", {"H0STCNT0": {47}, "H0STASP0": {62}}),  # the week the two TRs disagreed
    ],
)
def test_synth_writes_each_era_and_only_appends(choice: str, want: dict[str, set[int]]) -> None:
    session, lines = synth.generate(START, 0.5, seed=11, layout_day=layouts.parse_choice(choice))
    assert _widths(lines) == want
    assert session["generator"]["widths"] == {tr: min(w) for tr, w in want.items()}  # type: ignore[index]
    _, oldest = synth.generate(START, 0.5, seed=11, layout_day=layouts.parse_choice("pre-nxt"))
    assert [ln.text and _base(ln.text) for ln in lines] == [ln.text for ln in oldest]


def test_synth_defaults_to_the_layout_of_the_tape_day() -> None:
    for start, want in [
        (datetime(2026, 11, 25, 9, 30, tzinfo=KST), {"H0STCNT0": {47}, "H0STASP0": {63}}),
        (datetime(2026, 8, 26, 9, 30, tzinfo=KST), {"H0STCNT0": {46}, "H0STASP0": {62}}),
        (datetime(2024, 10, 2, 9, 30, tzinfo=KST), {"H0STCNT0": {46}, "H0STASP0": {59}}),
    ]:
        assert _widths(synth.generate(start, 0.3, seed=1)[1]) == want, start


def test_generate_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    assert cli.main(["generate", str(out), "--minutes", "0.3", "--layout", "pre-nxt"]) == 0
    rec = tape.load(out)
    assert _widths(rec.lines) == {"H0STCNT0": {46}, "H0STASP0": {59}}
    assert rec.session["generator"]["layout_day"] == "2025-03-03"  # type: ignore[index]
    capsys.readouterr()
    assert cli.main(["generate", str(tmp_path / "bad"), "--layout", "2019"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "fakekis generate: error: --layout: '2019' is neither an era (pre-nxt, 2025, 2026-09) "
        "nor a day YYYY-MM-DD"
    ]
    assert not (tmp_path / "bad").exists()


def test_unknown_tr_and_choice_are_one_line_errors() -> None:
    with pytest.raises(layouts.LayoutError, match="known: H0STCNT0, H0STASP0"):
        layouts.eras("H0STXXX0")
    assert layouts.parse_choice("2026-09-14") == date(2026, 9, 14)


@pytest.mark.parametrize("day", [date(2026, 8, 26), date(2026, 11, 25)])
@pytest.mark.parametrize("records", [1, 3])
def test_field_drift_produces_a_width_no_era_has(day: date, records: int) -> None:
    width = layouts.layout("H0STCNT0", day).width
    rec = [str(i) for i in range(width)]
    frame = Data.of("H0STCNT0", [rec] * records)
    out = faults.FieldDrift().data(None, None, frame, 0.0)  # type: ignore[arg-type]
    assert len(out) == 1 and isinstance(out[0], Data)
    text = out[0].text
    _, _, n, payload = text.split("|", 3)
    drifted = len(payload.split("^")) // int(n)
    assert int(n) == records and drifted > width
    assert drifted not in layouts.widths("H0STCNT0")
    assert gateway_layouts.era("H0STCNT0", drifted) is None
    assert layouts.width_no_era_has("H0STASP0", 59) == 60 and layouts.width_no_era_has("H0STASP0", 62) == 64
