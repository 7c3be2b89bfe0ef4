"""The exchange's ledger: the ground truth scale-out checkers compare gateway and consumer logs against
(docs/scaling.md, "Checkers"). Sans-I/O: every entry takes `now` from the caller.

Entries are plain JSON objects, one per line on `GET /__fakekis/history`:
- `session-open` / `session-owner` (the appkey a session first used) / `session-close` (with its cause);
- `ack` (every subscription reply, by code) ;
- `data`: one per record sent, with the session, tr_id, symbol, `acml_vol` (H0STCNT0 field 13) and the
  exchange time (field 1), stamped with the emit time;
- `oauth`: tokenP and Approval calls with their status and error code;
- `rest`: every quotation call with its appkey and result code (so per-appkey per-second counts follow).

Appkeys appear only as `appkey_id`: the first 16 hex chars of sha256(env NUL appkey), the same id the
gateway uses in its Redis keys, so the two can be joined without either showing a secret.
Off by default (`fakekis serve --ledger`, `FakeKis(ledger=True)`): it costs a split per data frame.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

ACML_VOL, EXCH_TIME = 13, 1


def appkey_id(env: str, appkey: str) -> str:
    return hashlib.sha256(f"{env}\0{appkey}".encode()).hexdigest()[:16]


@dataclass
class Ledger:
    env: str
    limit: int = 2_000_000
    events: list[dict[str, object]] = field(default_factory=list)
    overflow: int = 0  # entries not kept once `limit` was reached

    def _add(self, kind: str, now: float, **fields: object) -> None:
        if len(self.events) >= self.limit:
            self.overflow += 1
            return
        self.events.append({"kind": kind, "t": round(now, 6), **fields})

    def ident(self, appkey: str | None) -> str | None:
        return None if appkey is None else appkey_id(self.env, appkey)

    def session_open(self, number: int, now: float) -> None:
        self._add("session-open", now, session=number)

    def session_owner(self, number: int, appkey: str, now: float) -> None:
        self._add("session-owner", now, session=number, appkey=self.ident(appkey))

    def session_close(self, number: int, appkey: str | None, cause: str, now: float) -> None:
        self._add("session-close", now, session=number, appkey=self.ident(appkey), cause=cause)

    def ack(self, number: int, msg_cd: str, tr_id: str, tr_key: str, now: float) -> None:
        self._add("ack", now, session=number, code=msg_cd, tr_id=tr_id, tr_key=tr_key)

    def data(self, number: int, appkey: str | None, text: str, now: float) -> None:
        parts = text.split("|", 3)
        if len(parts) != 4 or parts[0] != "0":
            self._add("data", now, session=number, appkey=self.ident(appkey), tr_id=None, raw=True)
            return
        tr_id, fields = parts[1], parts[3].split("^")
        try:
            count = max(1, int(parts[2]))
        except ValueError:
            count = 1
        width = len(fields) // count if count else len(fields)
        for i in range(count):
            rec = fields[i * width : (i + 1) * width]
            self._add(
                "data",
                now,
                session=number,
                appkey=self.ident(appkey),
                tr_id=tr_id,
                symbol=rec[0] if rec else "",
                acml_vol=int(rec[ACML_VOL])
                if tr_id == "H0STCNT0" and len(rec) > ACML_VOL and rec[ACML_VOL].isdigit()
                else None,
                exch_time=rec[EXCH_TIME] if len(rec) > EXCH_TIME else "",
            )

    def oauth(self, kind: str, appkey: str | None, status: int, code: str | None, now: float) -> None:
        self._add("oauth", now, call=kind, appkey=self.ident(appkey), status=status, code=code)

    def rest(self, appkey: str | None, code: str, now: float, wall: float | None = None) -> None:
        self._add(
            "rest", now, appkey=self.ident(appkey), code=code, second=int(wall if wall is not None else now)
        )

    def jsonl(self) -> str:
        return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.events)
