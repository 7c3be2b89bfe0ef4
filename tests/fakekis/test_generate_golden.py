"""`fakekis generate` without `--venues` gives, for a seed and flags, the same bytes it always gave.

The digests below were taken from the command at 77d5f29 (the last commit before the streamed generator
changed the output for a seed, which the merge 9ac76f1 brought into main): a bundled recording or a CI
fixture regenerated from its documented command must come out identical. The streamed generator now draws
its numbers in the list generator's order (fakekis/tape/synthday.py); these catch any drift in that order,
in the records, in session.json, or in the CLI's choice of generator.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fakekis.cli import main

CASES = [
    (
        ["--minutes", "3", "--seed", "7", "--start", "2026-11-25T09:05:00+09:00"],
        "9bca5802f8e0014f5ded8e18a1fcaed11a55a723b52dc4eb2f535b8317049fb5",
        "cc0493490d0d45f11805bfae88cd56972daf812589fe440352cef2a19f981325",
    ),
    (
        ["--minutes", "1.5", "--seed", "3", "--no-books", "--symbols", "005930,000660,035720,123456"]
        + ["--start", "2026-08-03T10:00:00+09:00"],
        "12f1bc082783a5ef44bfacf2e83654d5dbe7209ad2d8bbfee6d278b298c17dfd",
        "fe7c7f3844baf2a6a798d0ed5544778da1da8cfe2a9c5ff9eecf908e048c68c3",
    ),
]


@pytest.mark.parametrize(("flags", "ws_digest", "session_digest"), CASES)
def test_generate_without_venues_is_byte_identical_for_a_seed(
    tmp_path: Path, flags: list[str], ws_digest: str, session_digest: str
) -> None:
    out = tmp_path / "gen"
    assert main(["generate", str(out), *flags]) == 0
    assert hashlib.sha256((out / "ws.jsonl").read_bytes()).hexdigest() == ws_digest
    assert hashlib.sha256((out / "session.json").read_bytes()).hexdigest() == session_digest


def test_generate_compressed_holds_the_same_lines(tmp_path: Path) -> None:
    """--compress changes the container, not the tape: the zst file decodes to the golden bytes."""
    import zstandard

    out = tmp_path / "gen"
    flags, ws_digest, _ = CASES[0]
    assert main(["generate", str(out), *flags, "--compress", "zst"]) == 0
    with (out / "ws.jsonl.zst").open("rb") as fh:
        data = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True).read()
    assert hashlib.sha256(data).hexdigest() == ws_digest
