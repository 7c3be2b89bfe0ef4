"""`kis-gateway serve` with one probe, for the fan-out row of bench/scale.py:

    python -m bench.scalereplica OUT.json      (environment as for `kis-gateway serve`, Redis mode)

It is the real replica (same app, lifespan, lease loop, Follower and Mirror), except that each Stream data
entry the in-process mirror applies is noted as (leader receive time `r`, wall time just after the apply),
both CLOCK_REALTIME on one host. On exit (SIGTERM) it writes the pairs to OUT.json. Nothing else changes:
the wrapper calls the mirror's own `apply` and appends one tuple.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from gateway import cli
from gateway.coord import stream
from gateway.coord.stream import DATA, Entry, Mirror

SAMPLES: list[tuple[float, float]] = []


def _probe() -> None:
    apply = Mirror.apply

    def probed(self: Mirror, fields: Mapping[str, str], now: float) -> Entry | None:
        e = apply(self, fields, now)
        if e is not None and e.kind == DATA:
            SAMPLES.append((e.received_at, time.time()))
        return e

    stream.Mirror.apply = probed  # type: ignore[method-assign]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m bench.scalereplica OUT.json", file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    _probe()
    try:
        return cli.main(["serve", "--port", "0"])
    finally:
        out.write_text(json.dumps(SAMPLES), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
