"""Shared test configuration: the hypothesis profiles.

Property tests run **derandomised** by default (profile ``ci``, used by
``make test`` and CI): every run tries the same examples, so CI cannot turn
red at random, and a failure seen there reproduces anywhere. Cases a random
run once found are pinned with ``@example``.

The ``random`` profile draws fresh examples and runs ``HYPOTHESIS_SCALE``
(default 10) times as many per test, to look for new failures::

    make test-random        # = HYPOTHESIS_PROFILE=random pytest -m hypothesis

(``-m hypothesis`` selects the property tests: hypothesis marks them.)
"""

from __future__ import annotations

import os

import pytest

try:
    from hypothesis import settings
except ImportError:  # a session without the property tests (nox "bare"): no profiles to load
    settings = None  # type: ignore[assignment]

# The tests talk to servers on loopback, and like curl the monitor sends
# loopback through HTTPS_PROXY & co. unless NO_PROXY lists it (docs/proxies.md):
# a developer's proxy variables must not leak into the suite (or its
# subprocesses). The proxy tests pass their variables explicitly.
for _name in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if settings is not None:
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    settings.register_profile("random", derandomize=False, deadline=None, print_blob=True)
    settings.load_profile(PROFILE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under the ``random`` profile, scale every property test's example count."""
    if PROFILE != "random" or settings is None:
        return
    scale = max(1, int(os.environ.get("HYPOTHESIS_SCALE", "10")))
    for item in items:
        fn = getattr(item, "obj", None)
        current = getattr(fn, "_hypothesis_internal_use_settings", None)
        if current is None or not getattr(fn, "is_hypothesis_test", False):
            continue
        fn._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            current, max_examples=current.max_examples * scale, derandomize=False
        )
