"""Which appkey/secret each environment gets in `kis-gateway compare`.

KIS issues a separate appkey/secret per environment: a mock key on the live domain is refused (`EGW02004`,
docs/kis/failure-modes.md F6). python-kis models this as `appkey`/`virtual_appkey`, the official samples'
`kis_devlp.yaml` as `my_app`/`my_sec` (live) and `paper_app`/`paper_sec` (mock). For each environment the
first of these that is set wins:

1. `KIS_MOCK_APP_KEY` + `KIS_MOCK_APP_SECRET` / `KIS_LIVE_APP_KEY` + `KIS_LIVE_APP_SECRET`;
2. the `kis_devlp.yaml` named by `--kis-devlp` or `KIS_DEVLP_YAML` (`paper_app`/`paper_sec`, `my_app`/`my_sec`);
3. `KIS_APP_KEY` + `KIS_APP_SECRET`, shared by both (what `compare` did before; fine against fakekis).

Only where a credential came from is ever shown (`Credential.source`); errors name the variable or the
file's field and never echo a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gateway.config import ConfigError

ENV_PAIRS = {
    "mock": ("KIS_MOCK_APP_KEY", "KIS_MOCK_APP_SECRET"),
    "live": ("KIS_LIVE_APP_KEY", "KIS_LIVE_APP_SECRET"),
}
SHARED_PAIR = ("KIS_APP_KEY", "KIS_APP_SECRET")
# The field names of the official samples' kis_devlp.yaml (koreainvestment/open-trading-api).
DEVLP_FIELDS = {"mock": ("paper_app", "paper_sec"), "live": ("my_app", "my_sec")}
DEVLP_ENV = "KIS_DEVLP_YAML"
_CREDENTIAL = re.compile(r"[!-~]{1,512}")  # printable ASCII, no spaces (as gateway.config checks)


@dataclass(frozen=True)
class Credential:
    key: str = field(repr=False)
    secret: str = field(repr=False)
    source: str  # e.g. "KIS_MOCK_APP_KEY/KIS_MOCK_APP_SECRET" or "kis_devlp.yaml paper_app/paper_sec"


def _checked(value: str, name: str) -> str:
    if not _CREDENTIAL.fullmatch(value):
        raise ConfigError(
            f"{name} has {len(value)} chars; allowed: 1-512 printable ASCII characters, no spaces "
            "(value not shown)"
        )
    return value


def read_devlp(path: Path) -> dict[str, object]:
    """The mapping in a kis_devlp.yaml; one ConfigError line naming the file when it cannot be used."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"--kis-devlp={str(path)[:200]!r}: cannot read it ({e.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"--kis-devlp={str(path)[:200]!r}: not YAML{at} ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--kis-devlp={str(path)[:200]!r}: not a mapping of fields (see kis_devlp.yaml)")
    return data


def per_env(
    env: Mapping[str, str], devlp: Path | None = None, modes: tuple[str, ...] = ("mock", "live")
) -> dict[str, Credential]:
    """The credential of each mode, by the precedence in the module docstring."""
    if devlp is None and env.get(DEVLP_ENV, "").strip():
        devlp = Path(env[DEVLP_ENV].strip())
    fields = read_devlp(devlp) if devlp is not None else {}
    out: dict[str, Credential] = {}
    for mode in modes:
        key_var, secret_var = ENV_PAIRS[mode]
        key, secret = env.get(key_var, "").strip(), env.get(secret_var, "").strip()
        if key or secret:
            if not (key and secret):
                missing = secret_var if key else key_var
                raise ConfigError(f"{missing} is not set ({key_var} and {secret_var} go together)")
            out[mode] = Credential(
                _checked(key, key_var), _checked(secret, secret_var), f"{key_var}/{secret_var}"
            )
            continue
        app, sec = DEVLP_FIELDS[mode]
        if devlp is not None and (fields.get(app) or fields.get(sec)):
            where = f"{devlp.name} {app}/{sec}"
            values = [fields.get(app), fields.get(sec)]
            for name, value in zip((app, sec), values, strict=True):
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(f"--kis-devlp={str(devlp)[:200]!r}: {name} is missing or not a string")
            out[mode] = Credential(
                _checked(str(values[0]).strip(), f"{devlp.name} {app}"),
                _checked(str(values[1]).strip(), f"{devlp.name} {sec}"),
                where,
            )
            continue
        key, secret = env.get(SHARED_PAIR[0], "").strip(), env.get(SHARED_PAIR[1], "").strip()
        if not (key and secret):
            raise ConfigError(
                f"no credentials for {mode}: set {key_var}/{secret_var}, or pass --kis-devlp with "
                f"{app}/{sec}, or set {SHARED_PAIR[0]}/{SHARED_PAIR[1]} for both environments"
            )
        out[mode] = Credential(
            _checked(key, SHARED_PAIR[0]),
            _checked(secret, SHARED_PAIR[1]),
            "/".join(SHARED_PAIR) + " (shared)",
        )
    return out
