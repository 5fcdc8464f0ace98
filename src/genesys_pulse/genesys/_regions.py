"""Genesys Cloud regions: environment domain -> login, API and streaming bases.

The table itself lives in :mod:`genesys_pulse.core._regions` (configuration
validation, which is pure code, needs it); this module is the Genesys
client's view of it.

>>> find_region("usw2.pure.cloud").login_base
'https://login.usw2.pure.cloud'
"""

from __future__ import annotations

from genesys_pulse.core import REGIONS, Region, find_region

__all__ = ["REGIONS", "Region", "find_region", "login_base_from_api_base"]


def login_base_from_api_base(api_base: str) -> str:
    """Derive the login base from an API base the way the official SDK does.

    ``https://api.X`` becomes ``https://login.X``; any other URL (a gateway,
    the emulator) is returned unchanged, because there the same host serves
    both.
    """
    return api_base.replace("//api.", "//login.", 1)
