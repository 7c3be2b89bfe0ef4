"""Scenarios from names and files: `drop`, `drop,malformed`, or a YAML/JSON file. Everything is checked
when the scenario is loaded, never later in a running server: fault names, unknown keys, and each
parameter's type and range (issue #12). A problem is one line naming the file, the line and the key, with
the allowed values, in the shape of `fakekis.tape.RecordingError`: `s.yaml:4: fault 'malformed': every:
0 is not allowed (allowed: a whole number from 1 to 1000000)`."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from fakekis.faults.base import Fault, Scenario
from fakekis.faults.catalogue import FAULTS
from fakekis.faults.params import ScenarioError, check_param

SCENARIO_KEYS = ("name", "faults")


class _Lined(dict[Any, Any]):
    """A YAML mapping that remembers its own line and each key's line (1-based)."""

    line: int | None = None
    lines: dict[Any, int]


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _Lined:
    loader.flatten_mapping(node)
    out = _Lined()
    out.line, out.lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            out[key] = loader.construct_object(value_node, deep=True)
        except TypeError:  # an unhashable key (`? [a]: b`)
            raise ScenarioError(f"line {key_node.start_mark.line + 1}: a key must be a name") from None
        out.lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _where(where: str, obj: object, key: object = None) -> str:
    """`file:line` for a key (or the mapping) when the spec came from a file with lines, else `where`."""
    if isinstance(obj, _Lined):
        line = obj.lines.get(key) if key is not None else None
        line = line or obj.line
        if line:
            return f"{where}:{line}"
    return where


def build(spec: object, name: str = "custom", where: str = "scenario") -> Scenario:
    """`[{"fault": "drop", "after_s": 5}, "market-closed", ...]` (or `{"name": ..., "faults": [...]}`)
    -> Scenario; every problem is a ScenarioError naming the place."""
    if isinstance(spec, dict):
        for key in spec:
            if key not in SCENARIO_KEYS:
                raise ScenarioError(
                    f"{_where(where, spec, key)}: unknown key {key!r} (allowed: {', '.join(SCENARIO_KEYS)})"
                )
        items = spec.get("faults")
    else:
        items = spec
    if not isinstance(items, list):
        raise ScenarioError(f"{_where(where, spec, 'faults')}: expected a list of faults")
    return Scenario([_fault(item, i, where) for i, item in enumerate(items)], name)


def _fault(item: object, i: int, where: str) -> Fault[Any]:
    if isinstance(item, str):
        item = {"fault": item}
    if not isinstance(item, dict) or "fault" not in item:
        raise ScenarioError(f"{_where(where, item)}: fault #{i + 1} needs a 'fault' name")
    kind = item["fault"]
    cls = FAULTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ScenarioError(
            f"{_where(where, item, 'fault')}: fault #{i + 1}: unknown fault {kind!r} (see `fakekis faults`)"
        )
    allowed = {f.name: f for f in fields(cls)}
    args = {k: v for k, v in item.items() if k != "fault"}
    for key, value in args.items():
        here = _where(where, item, key)
        if key not in allowed:
            raise ScenarioError(
                f"{here}: fault {kind!r}: unknown parameter {key!r} (allowed: {', '.join(allowed) or 'none'})"
            )
        wrong = check_param(allowed[key], value)
        if wrong:
            raise ScenarioError(f"{here}: fault {kind!r}: {key}: {wrong}")
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:  # a check the table above does not know; still one line
        raise ScenarioError(f"{_where(where, item)}: fault {kind!r}: {e}") from None


def load(text: str) -> Scenario:
    """A fault name (`drop`), a comma list (`drop,malformed`), or a YAML/JSON scenario file path."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
        if not path.is_file():
            raise ScenarioError(f"{text}: no such scenario file")
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise ScenarioError(f"{text}:{mark.line + 1 if mark else 1}: invalid YAML") from None
        except ScenarioError as e:
            raise ScenarioError(f"{text}: {e}") from None
        except UnicodeDecodeError:
            raise ScenarioError(f"{text}: not UTF-8 text") from None
        name = doc.get("name", path.stem) if isinstance(doc, dict) else path.stem
        if not isinstance(name, str):
            raise ScenarioError(
                f"{_where(text, doc, 'name')}: name: {name!r} is not allowed (allowed: a string)"
            )
        return build(doc, name, text)
    return build([n.strip() for n in text.split(",") if n.strip()], text, "--scenario")
