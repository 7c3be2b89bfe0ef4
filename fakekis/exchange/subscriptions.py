"""Which WebSocket subscriptions KIS takes, and how it refuses the rest (docs/kis/protocol.md §4.3, §5.4).

Pure decisions over the TR table (`trs.py`): for a subscribe request's (tr_id, tr_key) on an environment,
the refusal KIS answers with (an unknown or unmodelled TR, a TR the environment does not serve, a malformed
stock code, a wrong HTS ID) and whether the socket is dropped after it; and the `encrypt` flag of the ack of
one it takes. The exchange (`sessions.py`) asks these before it registers anything.
"""

from __future__ import annotations

from fakekis.exchange.actions import Reply, ack, parse_error, session_error
from fakekis.exchange.trs import TRS, Key, Status, status, stock_code

__all__ = ["NOTICE_ACK_ENCRYPT", "ack_encrypt", "refusal"]

# protocol.md §4.3: OBS, rt_cd 9, header ids "", the socket is kept.
_INVALID_TR_KEY = parse_error("OPSP8993", "JSON PARSING ERROR : invalid tr_key")

# The ack header's `encrypt` on a fill-notice registration: a real mock ack (docs/kis/real-frames.md,
# kisreal-088) says "N" although its frames are encrypted; live is "Y" as protocol.md §4.3 infers.
NOTICE_ACK_ENCRYPT = {"live": "Y", "mock": "N"}


def refusal(tr_id: str, tr_key: str, env: str, hts_id: str | None) -> tuple[Reply, bool] | None:
    """How KIS refuses this subscription on `env`, or None when it would take it (protocol.md §4.3 codes,
    §5.4 and endpoints.md §C0 for which TR each environment serves), and whether the socket is dropped
    after the reply. `hts_id`: the HTS ID fill notices must carry; None: any non-empty one."""
    tr = TRS.get(tr_id)
    st = status(tr_id, env)
    if tr is None or st is Status.NOT_MODELLED:
        # OPSP8991 is in KIS's code list with its msg1 but no observed reply (rt_cd "?"): its
        # "SUBSCRIBE ERROR" prefix is the subscription-level family (OPSP0008 et al., rt_cd 1, header
        # echoing the request), so that is the shape chosen here. A TR KIS serves but fakekis does
        # not model gets the same answer: refused, never acked into silence (trs.py).
        return ack(tr_id, tr_key, "1", "OPSP8991", "SUBSCRIBE ERROR : invalid tr_id"), False
    if st is Status.NOT_ON_ENV:
        # The WebSocket answer to a TR the environment does not serve is not documented (REST says
        # 90000000). OPSP8993 is observed for "a TR the account may not use" (§4.3), so it is used here.
        return _INVALID_TR_KEY, False
    if tr.key is Key.HTS_ID:
        if not tr_key or (hts_id is not None and tr_key != hts_id):
            # Observed and in the official README: the error, then a drop without a close frame.
            return session_error("OPSP0017", "ERROR : htsid가잘못되었습니다"), True
    elif not tr_key or (tr.key is Key.STOCK and not stock_code(tr_key)):
        # OPSP8993 (rt_cd 9, header ids "") is the observed reply to a malformed key; OPSP8992
        # "SUBSCRIBE ERROR : invalid tr_key" is only in the code list, unobserved, so 8993 it is.
        return _INVALID_TR_KEY, False
    return None


def ack_encrypt(tr_id: str, env: str) -> str:
    """The `encrypt` header of the ack that takes a subscription to `tr_id` on `env`."""
    tr = TRS.get(tr_id)
    return NOTICE_ACK_ENCRYPT.get(env, "N") if tr and tr.key is Key.HTS_ID else "N"
