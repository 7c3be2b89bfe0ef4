"""KIS_CREDENTIALS_FILE in the gateway's configuration and its wiring's pure parts (issue #17).

- A bad file stops `serve`/`diagnose` with one line naming the file and the field, exit 2, no secret.
- Without the file nothing changes: 42 symbols are still refused, with a hint at the file.
- With it: the appkeys are the file's entries for KIS_ENV (KIS_APP_KEY first when set too), more than 41
  symbols are allowed, every appkey and secret is redacted from logs, and none shows in a repr.
- The planner's placement reaches the sessions: each carries its symbols, the REST tier the last listed,
  REST goes through the carrying appkey; the metrics fold every session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import APPKEY, SECRET
from gateway.app import build
from gateway.cli import main
from gateway.config import ConfigError, from_env
from gateway.coord.credentials import appkey_id
from gateway.metrics import Metrics
from kisclock import ManualClock

KEYS = [f"PSfile{i}" + "k" * 30 for i in range(3)]
SECRETS = [f"secret{i}" + "s" * 170 for i in range(3)]
BASE = {
    "KIS_ENV": "mock",
    "KIS_REST_URL": "http://127.0.0.1:9",
    "KIS_WS_URL": "ws://127.0.0.1:9",
    "KIS_SYMBOLS": "005930",
}


def _file(tmp: Path, entries: Any, mode: int = 0o600, name: str = "creds.json") -> Path:
    path = tmp / name
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    path.chmod(mode)
    return path


def _entries(n: int = 3, env: str = "mock") -> list[dict[str, str]]:
    return [{"env": env, "appkey": KEYS[i], "appsecret": SECRETS[i]} for i in range(n)]


def _env(tmp: Path, path: Path | None, **extra: str) -> dict[str, str]:
    out = {**BASE, "GATEWAY_TOKEN_DIR": str(tmp / "tokens"), **extra}
    if path is not None:
        out["KIS_CREDENTIALS_FILE"] = str(path)
    return out


BAD_FILES: list[tuple[str, Any, int, str]] = [
    ("loose mode", _entries(), 0o644, "mode 0644"),
    ("not JSON", "{oops", 0o600, "not JSON"),
    ("empty list", [], 0o600, "non-empty JSON list"),
    ("bad env", [{"env": "prod", "appkey": KEYS[0], "appsecret": SECRETS[0]}], 0o600, "env='prod'"),
    ("no secret", [{"env": "mock", "appkey": KEYS[0]}], 0o600, "appsecret"),
    ("twice", [_entries(1)[0], _entries(1)[0]], 0o600, "twice"),
    ("other env only", _entries(2, env="live"), 0o600, "no entry with env='mock'"),
]


@pytest.mark.parametrize(
    "command", [["serve", "--port", "0"], ["diagnose", "--seconds", "1"]], ids=lambda c: c[0]
)
@pytest.mark.parametrize("what,entries,mode,says", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_credentials_file_is_one_line_naming_file_and_field(
    what: str,
    entries: Any,
    mode: int,
    says: str,
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for k in list(os.environ):
        if k.startswith(("KIS_", "GATEWAY_")):
            monkeypatch.delenv(k)
    for k, v in _env(tmp_path, _file(tmp_path, entries, mode)).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("gateway.cli._logs", _accepted)
    try:
        code = main(command)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "KIS_CREDENTIALS_FILE" in err and "creds.json" in err and says in err, err
    assert "Traceback" not in err and not any(s in err for s in (*KEYS, *SECRETS)), err


def _accepted(level: int) -> None:
    raise AssertionError("the bad file was accepted: the command went on to start")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"KIS_CREDENTIALS_FILE=.*nowhere.json.* cannot be read"):
        from_env(_env(tmp_path, tmp_path / "nowhere.json"))


def test_without_the_file_42_symbols_are_still_refused_and_the_file_is_suggested(tmp_path: Path) -> None:
    symbols = ",".join(f"{100_000 + i}" for i in range(42))
    with pytest.raises(ConfigError, match="41 registrations per session.*KIS_CREDENTIALS_FILE"):
        from_env(_env(tmp_path, None, KIS_APP_KEY=APPKEY, KIS_APP_SECRET=SECRET, KIS_SYMBOLS=symbols))
    cfg = from_env(_env(tmp_path, None, KIS_APP_KEY=APPKEY, KIS_APP_SECRET=SECRET))
    assert cfg.appkeys == () and cfg.app_key == APPKEY


def test_the_file_names_the_appkeys_and_permits_more_than_41_symbols(tmp_path: Path) -> None:
    path = _file(
        tmp_path, [*_entries(2), {"env": "live", "appkey": "PSlive" + "k" * 30, "appsecret": "x" * 40}]
    )
    symbols = ",".join(f"{100_000 + i}" for i in range(100))
    cfg = from_env(_env(tmp_path, path, KIS_SYMBOLS=symbols))
    assert [k.appkey for k in cfg.appkeys] == KEYS[:2]  # the live entry is another environment's
    assert cfg.app_key == KEYS[0] and cfg.app_secret == SECRETS[0]
    assert len(cfg.symbols) == 100
    assert set(KEYS[:2]) | set(SECRETS[:2]) <= set(cfg.secrets)  # all redacted from logs
    assert not any(s in repr(cfg) for s in (*KEYS, *SECRETS))


def test_kis_app_key_set_too_comes_first_once(tmp_path: Path) -> None:
    path = _file(tmp_path, _entries(2))
    cfg = from_env(_env(tmp_path, path, KIS_APP_KEY=KEYS[1], KIS_APP_SECRET=SECRETS[1]))
    assert [k.appkey for k in cfg.appkeys] == [KEYS[1], KEYS[0]] and cfg.app_key == KEYS[1]
    cfg = from_env(_env(tmp_path, path, KIS_APP_KEY=APPKEY, KIS_APP_SECRET=SECRET))
    assert [k.appkey for k in cfg.appkeys] == [APPKEY, *KEYS[:2]]


def test_each_session_carries_its_planned_symbols_and_rest_goes_through_its_appkey(tmp_path: Path) -> None:
    symbols = [f"{100_000 + i}" for i in range(90)]  # 2 x 41 = 82 places: the last 8 listed overflow
    cfg = from_env(_env(tmp_path, _file(tmp_path, _entries(2)), KIS_SYMBOLS=",".join(symbols)))
    gw = build(cfg, ManualClock(0.0))
    shards = gw.shards
    assert shards is not None
    assert shards.rest_tier == tuple(symbols[82:])
    carried = {i: s.cfg.symbols for i, s in shards.shards.items()}
    assert sorted(len(v) for v in carried.values()) == [41, 41]
    assert sorted(x for v in carried.values() for x in v) == symbols[:82]
    for ident, shard in shards.shards.items():
        assert shard.cfg.app_key == next(k for k in KEYS if appkey_id("mock", k) == ident)
        assert shard.worker.cfg.symbols == shard.cfg.symbols and shard.rest.cfg.app_key == shard.cfg.app_key
        for s in shard.cfg.symbols:
            assert gw.rest_for(s) is shard.rest
    assert gw.rest is shards.primary.rest and shards.primary.cfg.app_key == KEYS[0]
    assert all(gw.rest_for(s) in {x.rest for x in shards.shards.values()} for s in shards.rest_tier)
    assert shards.why(symbols[-1]) is not None and shards.why(symbols[-1]).startswith("rest-tier")
    assert shards.why(symbols[0]) is None
    assert set(gw.metrics.parts) == set(shards.shards)
    assert not any(k in repr(shards) for k in (*KEYS, *SECRETS))


def test_the_metrics_fold_every_session() -> None:
    a, b, api = Metrics(), Metrics(), Metrics()
    api.parts = {"a": a, "b": b}
    a.ws_connected, a.ws_subscriptions, a.worker_running, a.ws_last_message_at = True, 41, True, 10.0
    b.ws_connected, b.ws_subscriptions, b.worker_running, b.ws_last_message_at = False, 18, True, 4.0
    a.ws_refusals["OPSP8996"] += 1
    b.ws_refusals["OPSP8996"] += 2
    a.reach("subscribed", 3.0)
    b.reach("subscribed", 2.0)
    b.reach("subscribed", 5.0)
    api.count_served("kis-ws", "krx")
    t = api.total()
    assert t.ws_subscriptions == 59 and t.ws_refusals["OPSP8996"] == 3
    assert t.ws_connected is False  # one session down is not "connected"
    assert t.ws_last_message_at == 4.0  # the silent one shows (F10)
    assert t.first["subscribed"] == 2.0 and t.last["subscribed"] == 5.0
    assert t.source_counts["kis-ws"] == 1
    d = api.as_dict(12.0)
    assert d["ws_subscriptions"] == 59 and d["ws_last_message_age_s"] == 8.0
    assert d["appkeys"]["a"]["ws_subscriptions"] == 41 and d["appkeys"]["b"]["ws_connected"] is False
    b.ws_connected = True
    assert api.total().ws_connected is True
    assert Metrics().total().as_dict() == Metrics().as_dict()  # one appkey: the same object, as before


def test_diagnose_names_the_rest_tier_and_counts_only_placed_symbols(tmp_path: Path) -> None:
    from gateway.diagnose import diagnose

    symbols = [f"{100_000 + i}" for i in range(45)]  # 41 on the one appkey, 4 on REST
    cfg = from_env(_env(tmp_path, _file(tmp_path, _entries(1)), KIS_SYMBOLS=",".join(symbols)))
    gw = build(cfg, ManualClock(0.0))
    gw.shards.primary.metrics.ws_subscriptions = 41
    d = diagnose(gw)
    subscribed = next(f for f in d.findings if f.boundary == "subscribed")
    assert subscribed.evidence.startswith("acked 41/41;"), subscribed
    tier = [n for n in d.notes if "rest-tier" in n]
    assert len(tier) == 1 and "4 symbol(s)" in tier[0] and symbols[-1] in tier[0], d.notes
