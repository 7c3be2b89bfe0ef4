"""Record modes of the pytest plugin, as vcrpy and pytest-recording have them
(`@pytest.mark.fake_kis(record="once", upstream=...)`, docs/api.md):

- `none` (default): replay only; the recording must exist.
- `once`: replay the test's recording if it exists; otherwise the test runs through the recording proxy
  (`fakekis record`'s `Recorder`) in front of `upstream`, and the recording is written at teardown. The
  next run replays it and never contacts the upstream.
- `new_episodes`: as `once` when there is no recording yet. When there is one, the test runs through the
  proxy again, and the REST interactions it did not have are added to its `rest.yaml`. The WebSocket
  stream (`ws.jsonl`) is one episode: the first recording's stays (it is taken only if there was none).

A recording made here replays REST as vcrpy does, without the tape's timeline: every interaction's `t`
is set to 0, so a call matches whenever in the test it is made (the first recorded of equal matches
answers). The upstream is a `{"rest_url", "ws_url"}` mapping, a `(rest_url, ws_url)` pair, or `"mock"`
/ `"live"` for real KIS; a test suite can instead define the fixture `fake_kis_upstream`, which is only
asked for when a test records.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fakekis.serve.proxy import UPSTREAMS

MODES = ("none", "once", "new_episodes")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class RecordModeError(ValueError):
    pass


def check_mode(mode: object) -> str:
    if mode not in MODES:
        raise RecordModeError(f"fake_kis: record={mode!r} is not allowed (allowed: {', '.join(MODES)})")
    return str(mode)


def default_folder(test_file: Path, test_name: str) -> Path:
    """`<test dir>/recordings/<module>/<test name>` (pytest-recording's layout, one folder per test)."""
    return test_file.parent / "recordings" / test_file.stem / _UNSAFE.sub("_", test_name).strip("_")


def upstream_urls(value: object) -> tuple[str, str]:
    """(rest_url, ws_url) from the marker's or fixture's `upstream`."""
    if isinstance(value, str) and value in UPSTREAMS:
        return UPSTREAMS[value]
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("rest_url"), str)
        and isinstance(value.get("ws_url"), str)
    ):
        return value["rest_url"], value["ws_url"]
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    raise RecordModeError(
        "fake_kis: upstream must be {'rest_url': ..., 'ws_url': ...}, a (rest_url, ws_url) pair, or 'mock'/'live' "
        f"(real KIS), got {type(value).__name__}; a test that records needs one (marker upstream= or the "
        "fake_kis_upstream fixture)"
    )


def exists(folder: Path) -> bool:
    return (folder / "session.json").is_file()


def _cassette(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return doc if isinstance(doc, dict) else {"interactions": [], "version": 1}


def untimed(folder: Path) -> None:
    """Every REST interaction at `t` 0: replayed whenever asked, as vcrpy replays."""
    path = folder / "rest.yaml"
    if not path.is_file():
        return
    doc = _cassette(path)
    doc["interactions"] = [{**it, "t": 0.0} for it in doc.get("interactions") or []]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _key(interaction: Mapping[str, Any]) -> tuple[str, str, str]:
    req = interaction.get("request") or {}
    return (str(req.get("method", "")).upper(), str(req.get("uri", "")), str(req.get("body") or ""))


def merge_new_episodes(folder: Path, episode: Path) -> int:
    """Add the REST interactions of `episode` that `folder` lacks (by method, URI and body); take its
    ws.jsonl only if `folder` has no WebSocket messages. Removes `episode`. Returns how many were added."""
    old, new = _cassette(folder / "rest.yaml"), _cassette(episode / "rest.yaml")
    known = {_key(it) for it in old.get("interactions") or []}
    added = [it for it in new.get("interactions") or [] if _key(it) not in known]
    old["interactions"] = [*(old.get("interactions") or []), *added]
    (folder / "rest.yaml").write_text(
        yaml.safe_dump(old, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    ws_old, ws_new = folder / "ws.jsonl", episode / "ws.jsonl"
    if ws_new.is_file() and (not ws_old.is_file() or not ws_old.read_text(encoding="utf-8").strip()):
        shutil.copyfile(ws_new, ws_old)
        shutil.copyfile(episode / "session.json", folder / "session.json")
    shutil.rmtree(episode, ignore_errors=True)
    untimed(folder)
    return len(added)
