"""`fakekis/__init__.py` is the front door: the documented public names resolve to the real objects, and an
unknown name is an AttributeError (not a silent None that would hide a typo in a user's import)."""

from __future__ import annotations

import pytest

import fakekis
from fakekis.faults import Scenario
from fakekis.serve.server import FakeKis
from fakekis.tape.format import bundled
from fakekis.tape.reader import load


def test_public_names_are_the_real_objects() -> None:
    assert (fakekis.FakeKis, fakekis.Scenario, fakekis.load, fakekis.bundled) == (
        FakeKis,
        Scenario,
        load,
        bundled,
    )
    from fakekis import FakeKis as F  # the `from ... import` form users write

    assert F is FakeKis
    assert set(fakekis.__all__) >= {"FakeKis", "Scenario", "load", "bundled"}


def test_finding_a_bundled_recording_keeps_the_public_name() -> None:
    """`tape.bundled()` once imported the subpackage `fakekis.bundled`, which Python then set as the attribute
    `fakekis.bundled`: the public function became a module for the rest of the process (a test order
    dependence: the check above failed whenever an earlier test had found a bundled recording)."""
    assert (bundled() / "session.json").is_file()
    assert fakekis.bundled is bundled
    assert callable(fakekis.bundled)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Fakekis"):
        fakekis.Fakekis  # noqa: B018
