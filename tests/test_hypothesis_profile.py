"""Property tests are deterministic unless the random profile is asked for (tests/conftest.py)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

DRAWN: list[list[int]] = []


@pytest.mark.skipif(
    os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="the random profile is in use"
)
def test_default_profile_is_derandomised() -> None:
    assert settings.default.derandomize is True
    assert settings.default.database is None

    @settings(max_examples=25)
    @given(st.lists(st.integers()))
    def probe(xs: list[int]) -> None:
        DRAWN[-1].append(len(xs) * 1_000_003 + sum(xs))

    for _ in range(2):
        DRAWN.append([])
        probe()
    assert DRAWN[0] == DRAWN[1]  # the same examples, run after run
