"""The pytest plugin's REST replay option: `rest_match_on` reaches the replay, and its stats show in
`fake_kis.stats()` (docs/recordings.md)."""

from __future__ import annotations

import pytest

from fakekis.testing.handle import FakeKisHandle


@pytest.mark.fake_kis(rest_match_on=("method", "path"))
def test_rest_match_on_marker_reaches_the_replay(fake_kis: FakeKisHandle) -> None:
    replay = fake_kis.stats()["rest_replay"]
    assert replay["match_on"] == ["method", "path"]
    assert (replay["interactions"], replay["hits"], replay["misses"]) == (0, 0, 0)


def test_default_matchers(fake_kis: FakeKisHandle) -> None:
    assert fake_kis.stats()["rest_replay"]["match_on"] == ["method", "path", "tr_id", "query", "body"]
