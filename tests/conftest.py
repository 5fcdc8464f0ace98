"""Shared test configuration.

Hypothesis profiles: ``ci`` (loaded when ``CI`` is set, as on the CI machine)
is derandomised -- the same examples on every run, no example database -- so
a property test cannot pass or fail by luck there; ``dev`` (default) explores
randomly. ``HYPOTHESIS_PROFILE`` overrides the choice.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
