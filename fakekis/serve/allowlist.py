"""What `fakekis record` forwards to real KIS, as a pure decision (docs/security.md).

`check(method, raw_path, headers)` says whether a client's REST request may go upstream: the path must
already be plain (as upstream will see it after `normalise`), credential headers may not repeat, and only
auth calls and quotation GETs with a quotation tr_id pass unless trading is allowed. It is an allow-list:
an order or account id nobody listed is refused. `FORWARDED_HEADERS` is what of the request goes along.
No I/O here; the proxy (`serve/proxy.py`) carries out the answer.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import unquote

_AUTH_PATHS = {"/oauth2/tokenP", "/oauth2/revokeP", "/oauth2/Approval"}
# The allow-list (docs/security.md): quotation GETs under .../v1/quotations/, with a quotation tr_id.
# Everything else (orders, balances, hashkey, unknown ids) is refused unless --allow-trading.
_QUOTATION_PATH = re.compile(r"^/uapi/[a-z-]+/v1/quotations/[a-z0-9-]+$")
_QUOTATION_TR = re.compile(r"^(?:FH[A-Z]{3}\d{8}|HHDFS\d{8}|CTPF\d{4}R|CTCA0903R)$")
_SAFE_PATH = re.compile(r"^(?:/[A-Za-z0-9_.~-]+)+$")
# Headers a request may carry once only: a repeated one could be checked here and read differently
# upstream. Names compare as HTTP does (case-insensitively) and with - and _ alike.
SINGLE_HEADERS = ("tr_id", "authorization", "appkey", "appsecret")
# The only client headers forwarded upstream: what KIS reads (protocol: the common REST headers).
FORWARDED_HEADERS = {
    "accept",
    "appkey",
    "appsecret",
    "authorization",
    "content-type",
    "custtype",
    "gt_uid",
    "hashkey",
    "ip_addr",
    "mac_address",
    "personalseckey",
    "phone_number",
    "seq_no",
    "tr_cont",
    "tr_id",
}
_ADVICE = "Pass --allow-trading to record such calls (real orders would be placed)."


def normalise(raw_path: str) -> str:
    """The path as upstream will see it: percent-decoded once, dot segments removed (RFC 3986 5.2.4).
    The proxy decides on this path and forwards only requests already in this form."""
    segments = unquote(raw_path, errors="replace").split("/")
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "..":
            if len(out) > 1:
                out.pop()
        elif seg != ".":
            out.append(seg)
        if last and seg in (".", ".."):
            out.append("")
    path = "/".join(out)
    return path if path.startswith("/") else "/" + path


def refusal(path: str, tr_id: str | None, method: str = "GET") -> str | None:
    """Why a REST call (on a normalised path) may not be forwarded by default, or None. Only auth calls
    and quotation GETs with a quotation tr_id pass: an allow-list, so an unknown id is refused."""
    if path in _AUTH_PATHS and method == "POST":
        return None
    if _QUOTATION_PATH.match(path) and method == "GET" and tr_id is not None and _QUOTATION_TR.match(tr_id):
        return None
    what = f"{method} {path}" + (f" with tr_id {tr_id}" if tr_id is not None else " without a tr_id")
    return (
        f"fakekis record forwards only auth calls and quotation GETs with a quotation tr_id; {what} is "
        f"not one (it may be an order or account call) and was NOT sent to KIS. {_ADVICE}"
    )


def check(
    method: str, raw_path: str, headers: list[tuple[str, str]], allow_trading: bool = False
) -> tuple[str, None, None] | tuple[None, str, str]:
    """(path to forward, None, None), or (None, why, reason code) for a refused request."""
    seen: Counter[str] = Counter(k.lower().replace("-", "_") for k, _ in headers)
    repeated = sorted(k for k in SINGLE_HEADERS if seen[k] > 1)
    if repeated:
        return (
            None,
            f"header {', '.join(repeated)} given more than once; refused, nothing was sent",
            "duplicate",
        )
    path = normalise(raw_path)
    if not _SAFE_PATH.match(path) or path != raw_path:
        return (
            None,
            "the path must be plain (no percent-encoding, dot segments, empty segments or characters KIS "
            "paths never use); refused, nothing was sent",
            "path",
        )
    if allow_trading:
        return path, None, None
    tr_ids = [v for k, v in headers if k.lower() == "tr_id"]
    why = refusal(path, tr_ids[0] if tr_ids else None, method)
    return (None, why, "not-allowed") if why else (path, None, None)
