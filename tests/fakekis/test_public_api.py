"""`fakekis/__init__.py` is the front door: the documented public names resolve to the real objects, and an
unknown name is an AttributeError (not a silent None that would hide a typo in a user's import)."""

from __future__ import annotations

import pytest

import fakekis
from fakekis.faults import Scenario
from fakekis.serve.server import FakeKis
from fakekis.tape.format import bundled, load


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


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Fakekis"):
        fakekis.Fakekis  # noqa: B018
