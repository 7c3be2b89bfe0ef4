"""`serve --from T` REST warm-up in-process on the bench day (issue #18 leftovers), never in unit tests.

    python -m bench.warm [--work /tmp/kis-bench-tapes]   # after `python -m bench.tapes` made DIR/day

For each T: the seconds `Tape.open` takes (the index's JSON, market checkpoints included) and the seconds
`FakeKis(..., window=Window(start=T))` takes (restore the last market checkpoint before T, prime, fold the
frames from it to T), with the index's size and checkpoint count; the same, side by side, for starting at
the top (no warm-up). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fakekis import tape
from fakekis.serve.server import FakeKis
from fakekis.tape.stream import Window
from kisclock import KST


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/kis-bench-tapes"))
    day = ap.parse_args().work / "day"
    out: dict[str, Any] = {"load_before": f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"}
    index = day / "ws.index.json"
    doc = json.loads(index.read_text())
    out["index_bytes"] = index.stat().st_size
    out["market_checkpoints"] = len(doc.get("market") or [])
    rec0 = tape.open_tape(day)
    midnight = datetime.fromtimestamp(rec0.start, KST).replace(hour=0, minute=0, second=0, microsecond=0)
    for label in ("top", "09:30", "15:00", "19:59"):
        t0 = time.perf_counter()
        rec = tape.open_tape(day)
        t1 = time.perf_counter()
        if label == "top":
            start = 0.0
        else:
            h, m = (int(x) for x in label.split(":"))
            start = (midnight + timedelta(hours=h, minutes=m)).timestamp() - rec.start
        c1 = time.process_time()
        FakeKis(rec, window=Window(start=start))
        t2, c2 = time.perf_counter(), time.process_time()
        out[label] = {
            "open_s": round(t1 - t0, 3),
            "fakekis_with_warm_up_s": round(t2 - t1, 3),
            "fakekis_with_warm_up_cpu_s": round(c2 - c1, 3),
        }
    out["load_after"] = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
