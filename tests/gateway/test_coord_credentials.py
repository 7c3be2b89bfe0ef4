"""KIS_CREDENTIALS_FILE: several appkeys, mode 0600 enforced, one-line errors that never show a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.coord.credentials import CredentialsError, load, parse

KEY, SECRET = "PSkey" + "k" * 31, "sec" + "s" * 177


def _write(tmp_path: Path, data: object, mode: int = 0o600) -> Path:
    p = tmp_path / "creds.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    p.chmod(mode)
    return p


def test_several_appkeys_load_and_hide_their_secrets(tmp_path: Path) -> None:
    entries = [{"env": "mock", "appkey": KEY + str(i), "appsecret": SECRET} for i in range(3)]
    keys = load(_write(tmp_path, entries))
    assert [k.env for k in keys] == ["mock"] * 3
    assert len({k.ident for k in keys}) == 3 and all(len(k.ident) == 16 for k in keys)
    assert KEY not in repr(keys) and SECRET not in repr(keys)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    p = _write(tmp_path, [{"env": "mock", "appkey": KEY, "appsecret": SECRET}], mode)
    with pytest.raises(CredentialsError, match=f"mode {mode:04o}; allowed: 0600") as e:
        load(p)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("{", "not JSON"),
        ("[]", "non-empty JSON list"),
        ([1], "entry 0 is not an object"),
        ([{"env": "prod", "appkey": KEY, "appsecret": SECRET}], "env='prod'"),
        ([{"env": "mock", "appkey": "a b", "appsecret": SECRET}], "appkey is missing or invalid"),
        ([{"env": "mock", "appkey": KEY}], "appsecret is missing or invalid"),
        ([{"env": "mock", "appkey": KEY, "appsecret": SECRET, "x": 1}], "unknown field 'x'"),
        ([{"env": "mock", "appkey": KEY, "appsecret": SECRET}] * 2, "entry 1: the same mock appkey"),
    ],
)
def test_bad_entries_are_one_line_naming_the_field(data: object, says: str) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(CredentialsError, match=says) as e:
        parse(text)
    msg = str(e.value)
    assert "\n" not in msg and KEY not in msg and SECRET not in msg and msg.startswith("KIS_CREDENTIALS_FILE")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot be read"):
        load(tmp_path / "nope.json")
