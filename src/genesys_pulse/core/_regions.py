"""The Genesys Cloud region table (pure data).

Each region is one *environment domain* (``mypurecloud.com``,
``usw2.pure.cloud``, ...) from which every base URL is derived:

* API: ``https://api.{domain}``
* login (OAuth): ``https://login.{domain}``
* streaming (the host inside a channel's ``connectUri``): ``wss://streaming.{domain}``

Source: the official Python SDK 269.0.0 ``purecloud_region_hosts.py`` (the JS
SDK has the same list without ``eusc_de_east_1``); see
``docs/facts/genesys-cloud.md`` section 2. The AWS region names of
``ap_southeast_1`` and ``eusc_de_east_1`` are inferred from the SDK enum names.

The table lives in :mod:`genesys_pulse.core` because configuration validation
(pure code) needs it; :mod:`genesys_pulse.genesys` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REGIONS", "Region", "find_region"]


@dataclass(frozen=True, slots=True)
class Region:
    """One Genesys Cloud region."""

    name: str
    """The SDK enum name, e.g. ``us_east_1``."""
    aws_region: str
    """The AWS region hosting it, e.g. ``us-east-1`` (suits OTel ``cloud.region``)."""
    location: str
    """A human description, e.g. ``Oregon``."""
    domain: str
    """The environment domain, e.g. ``mypurecloud.com``."""

    @property
    def api_base(self) -> str:
        """``https://api.{domain}``: REST calls (``/api/v2/...``)."""
        return f"https://api.{self.domain}"

    @property
    def login_base(self) -> str:
        """``https://login.{domain}``: the OAuth token endpoint's base."""
        return f"https://login.{self.domain}"

    @property
    def streaming_base(self) -> str:
        """``wss://streaming.{domain}``: the host of ``connectUri`` (informational).

        Clients connect to ``connectUri`` exactly as the API returns it and
        never build the streaming URL themselves.
        """
        return f"wss://streaming.{self.domain}"


REGIONS: tuple[Region, ...] = (
    Region("us_east_1", "us-east-1", "US East (Virginia)", "mypurecloud.com"),
    Region("eu_west_1", "eu-west-1", "EU (Dublin)", "mypurecloud.ie"),
    Region("ap_southeast_2", "ap-southeast-2", "Asia Pacific (Sydney)", "mypurecloud.com.au"),
    Region("ap_northeast_1", "ap-northeast-1", "Asia Pacific (Tokyo)", "mypurecloud.jp"),
    Region("eu_central_1", "eu-central-1", "EU (Frankfurt)", "mypurecloud.de"),
    Region("us_west_2", "us-west-2", "US West (Oregon)", "usw2.pure.cloud"),
    Region("ca_central_1", "ca-central-1", "Canada (Central)", "cac1.pure.cloud"),
    Region("ap_northeast_2", "ap-northeast-2", "Asia Pacific (Seoul)", "apne2.pure.cloud"),
    Region("eu_west_2", "eu-west-2", "EU (London)", "euw2.pure.cloud"),
    Region("ap_south_1", "ap-south-1", "Asia Pacific (Mumbai)", "aps1.pure.cloud"),
    Region("us_east_2", "us-east-2", "US East (FedRAMP)", "use2.us-gov-pure.cloud"),
    Region("sa_east_1", "sa-east-1", "South America (Sao Paulo)", "sae1.pure.cloud"),
    Region("me_central_1", "me-central-1", "Middle East (UAE)", "mec1.pure.cloud"),
    Region("ap_northeast_3", "ap-northeast-3", "Asia Pacific (Osaka)", "apne3.pure.cloud"),
    Region("eu_central_2", "eu-central-2", "EU (Zurich)", "euc2.pure.cloud"),
    Region("mx_central_1", "mx-central-1", "Mexico (Central)", "mxc1.pure.cloud"),
    Region("ap_southeast_1", "ap-southeast-1", "Asia Pacific (Singapore)", "apse1.pure.cloud"),
    Region("eusc_de_east_1", "eusc-de-east-1", "EU Sovereign Cloud", "edee1.eusc-pure.cloud"),
)

_BY_KEY: dict[str, Region] = {}
for _r in REGIONS:
    _BY_KEY[_r.domain] = _r
    _BY_KEY[_r.name] = _r
    _BY_KEY[_r.aws_region] = _r


def find_region(key: str) -> Region | None:
    """Return the region named by *key*, or ``None``.

    *key* may be an environment domain (``usw2.pure.cloud``), an SDK enum name
    (``us_west_2``) or an AWS region name (``us-west-2``); case and surrounding
    whitespace are ignored, as is a trailing dot on a domain.
    """
    return _BY_KEY.get(key.strip().lower().rstrip("."))
