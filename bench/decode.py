"""Frame decode rate: the gateway's codec vs python-kis's own realtime parsing vs a plain str.split loop,
on the same 1-record and 4-record H0STCNT0 frames. Each decoder must produce every record's price."""

from __future__ import annotations

from typing import Any

from bench.common import RECORDING_46, batched, measure, trade_frames
from gateway import codec

REPEAT_FRAMES = 20_000


def _gateway(frames: list[str]) -> int:
    decode = codec.decode
    n = 0
    for text in frames:
        ev = decode(text)
        fields, width = ev.fields, ev.width
        for i in range(ev.count):
            n += fields[i * width + 2] != ""
    return len(frames)


def _split(frames: list[str]) -> int:
    for text in frames:
        _, _, count, payload = text.split("|", 3)
        fields = payload.split("^")
        n = int(count)
        width = len(fields) // n
        for i in range(n):
            fields[i * width + 2]
    return len(frames)


def _pykis() -> Any:
    try:
        from pykis.api.websocket.price import KisDomesticRealtimePrice
        from pykis.responses.websocket import KisWebsocketResponse
    except ImportError:
        return None

    def run(frames: list[str]) -> int:
        for text in frames:
            _, _, count, payload = text.split("|", 3)
            for rec in KisWebsocketResponse.parse(
                payload, int(count), response_type=KisDomesticRealtimePrice
            ):
                _ = rec.price
        return len(frames)

    return run


def run() -> list[dict[str, Any]]:
    single = trade_frames(RECORDING_46)  # the layout python-kis can parse, for every decoder alike
    rows = []
    for label, frames in (("1-record", single), ("4-record", batched(single, 4))):
        work = (frames * (REPEAT_FRAMES // len(frames) + 1))[:REPEAT_FRAMES]
        results = {
            "gateway codec": measure(lambda w=work: _gateway(w)),
            "plain str.split": measure(lambda w=work: _split(w)),
        }
        pk = _pykis()
        if pk is not None:
            results["python-kis parse"] = measure(lambda w=work[:4_000], pk=pk: pk(w))
        rows.append({"frames": label, "results": results})
    return rows
