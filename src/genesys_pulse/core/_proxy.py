"""Which HTTP proxy, if any, a connection goes through (pure: no I/O, no env reads).

The rules are curl's, which httpx follows too (``docs/proxies.md`` has the
sources and the few places where the two differ):

* a TLS destination (``https://``, ``wss://``) uses ``https_proxy`` /
  ``HTTPS_PROXY``, a plain one (``http://``, ``ws://``; loopback only in this
  project) ``http_proxy`` / ``HTTP_PROXY``; either falls back to ``all_proxy`` /
  ``ALL_PROXY``. The lower-case name wins; an empty value is unset.
* ``no_proxy`` / ``NO_PROXY`` is a comma-separated list of host names (a name
  matches itself and every sub-domain; a leading ``.`` or ``*.`` is ignored),
  IP addresses and CIDR blocks; ``*`` alone disables the proxy. Ports in
  entries are ignored.
* Loopback destinations are *not* bypassed implicitly (neither curl nor
  httpx does): put ``localhost,127.0.0.1,::1`` in ``NO_PROXY``.
* A proxy URL without a scheme is ``http://``; without a port, port 1080
  (curl's default). Only ``http://`` proxies are supported (the tunnel is an
  HTTP ``CONNECT``; TLS runs end to end inside it); ``https://`` and SOCKS
  proxies are refused with a message saying so.
* Basic credentials may be given in the proxy URL (``http://user:pass@host:port``,
  percent-encoded); they are held in a :class:`~genesys_pulse.core.config.Secret`
  and never shown: :class:`ProxyURL` prints as ``http://host:port``.

The selection (:meth:`ProxyRules.select`) is plain code so it can be tested
exhaustively; the transport (:class:`~genesys_pulse.transport.NetConnector`)
opens the tunnel. Hand-written because httpx's own proxy support covers only
httpx requests (not our WebSocket client, which shares one connector with
them) and it is bypassed anyway once a custom transport is mounted.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from genesys_pulse.core._config_model import Secret

__all__ = [
    "DEFAULT_PROXY_PORT",
    "PROXY_ENV_VARIABLES",
    "ProxyRules",
    "ProxyURL",
    "bypasses_proxy",
    "parse_proxy_url",
    "proxy_rules_from_env",
]

DEFAULT_PROXY_PORT = 1080
"""curl's default proxy port, used when a proxy URL names none."""

PROXY_ENV_VARIABLES = (
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)
"""Every variable :func:`proxy_rules_from_env` reads, in precedence order per pair."""


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """An ``http://`` proxy and its optional Basic credentials.

    ``str()`` is ``http://host:port`` - never the credentials - so it can be
    put in any message.
    """

    host: str
    port: int
    username: Secret | None = None
    """Held as a secret too: the pair is the credential (user names can be tokens)."""
    password: Secret | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        auth = ", with credentials" if self.username is not None else ""
        return f"ProxyURL({str(self)!r}{auth})"

    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` header value, or ``None``. Never log it."""
        if self.username is None:
            return None
        pw = self.password.reveal() if self.password is not None else ""
        raw = f"{self.username.reveal()}:{pw}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        """The values to mask in logs: the password and the encoded credential."""
        auth = self.authorization()
        if auth is None:
            return ()
        pw = self.password.reveal() if self.password is not None else ""
        return tuple(v for v in (pw, auth.split(" ", 1)[1]) if v)


@dataclass(frozen=True, slots=True)
class ProxyRules:
    """The proxy for TLS and for plain destinations, and the bypass list.

    ``ProxyRules()`` means "no proxy" (``proxy = "off"``).
    """

    https: ProxyURL | None = None
    """For TLS destinations (``https://``, ``wss://``)."""
    http: ProxyURL | None = None
    """For plain destinations (``http://``, ``ws://``)."""
    no_proxy: tuple[str, ...] = ()
    """Bypass entries, as given (see :func:`bypasses_proxy`)."""
    source: str = ""
    """Where the proxy came from (a variable or config key name), for messages."""

    def select(self, host: str, *, tls: bool) -> ProxyURL | None:
        """The proxy a connection to ``host`` goes through, or ``None`` for direct."""
        proxy = self.https if tls else self.http
        if proxy is None or bypasses_proxy(host, self.no_proxy):
            return None
        return proxy

    def secrets(self) -> tuple[str, ...]:
        """Every credential value held, for log redaction."""
        out: list[str] = []
        for p in (self.https, self.http):
            if p is not None:
                out.extend(s for s in p.secrets() if s not in out)
        return tuple(out)


def _bare(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _entry_host(entry: str) -> str:
    """An entry without its port, brackets, leading ``*.``/``.`` and trailing dot."""
    e = entry.strip().lower()
    if e.startswith("["):  # [v6] or [v6]:port
        return e[1 : e.index("]")] if "]" in e else e[1:]
    if e.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        e = e.split(":", 1)[0]
    if e.startswith("*."):
        e = e[2:]
    return e.lstrip(".").rstrip(".")


def bypasses_proxy(host: str, no_proxy: tuple[str, ...] | list[str]) -> bool:
    """Whether ``host`` matches an entry of a ``NO_PROXY`` list.

    >>> bypasses_proxy("api.example.com", ("example.com",))
    True
    >>> bypasses_proxy("notexample.com", (".example.com",))
    False
    >>> bypasses_proxy("10.1.2.3", ("10.0.0.0/8",))
    True
    >>> bypasses_proxy("127.0.0.1", ("localhost",))
    False
    """
    h = _bare(host)
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            h.split("%", 1)[0]
        )
    except ValueError:
        addr = None
    for raw in no_proxy:
        if raw.strip() == "*":
            return True
        e = _entry_host(raw)
        if not e:
            continue
        if addr is not None:
            try:
                if addr in ipaddress.ip_network(e, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if h == e or h.endswith("." + e):
            return True
    return False


def parse_no_proxy(text: str) -> tuple[str, ...]:
    """Split a ``NO_PROXY`` value (commas, optional spaces) into its entries."""
    return tuple(e for e in (p.strip() for p in text.replace(" ", ",").split(",")) if e)


def parse_proxy_url(text: str) -> ProxyURL:
    """Parse a proxy URL; ``ValueError`` messages never contain the credentials.

    >>> parse_proxy_url("proxy.corp:3128")
    ProxyURL('http://proxy.corp:3128')
    >>> str(parse_proxy_url("http://alice:s3cret@proxy.corp:3128"))
    'http://proxy.corp:3128'
    """
    s = text.strip()
    if not s:
        raise ValueError("is empty")
    if any(ord(c) < 0x21 or c == "\x7f" for c in s):
        raise ValueError("must not contain spaces or control characters")
    if "://" not in s:
        s = "http://" + s
    try:
        parts = urlsplit(s)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise ValueError("is not a valid proxy URL (write http://host:port)") from None
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise ValueError(
            f"uses a {scheme}:// proxy; only http:// proxies (HTTP CONNECT) are supported"
        )
    if not host:
        raise ValueError("has no host (write http://host:port)")
    if port == 0:
        raise ValueError("has port 0")
    if (parts.path not in ("", "/")) or parts.query or parts.fragment:
        raise ValueError("must be http://host:port with no path, query or fragment")
    username = Secret(unquote(parts.username)) if parts.username is not None else None
    password = Secret(unquote(parts.password)) if parts.password is not None else None
    return ProxyURL(host, port if port is not None else DEFAULT_PROXY_PORT, username, password)


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name)
        if value and value.strip():
            return name, value
    return None


def proxy_rules_from_env(env: Mapping[str, str]) -> ProxyRules:
    """The proxy rules the variables in ``env`` describe (curl's reading of them).

    Raises:
      ValueError: ``"<VARIABLE>: <problem>"`` for an unusable proxy URL (the
        message names the variable, never the credentials).
    """
    found: dict[str, ProxyURL | None] = {}
    sources: list[str] = []
    for kind, names in (
        ("https", ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")),
        ("http", ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")),
    ):
        hit = _first(env, *names)
        if hit is None:
            found[kind] = None
            continue
        name, value = hit
        try:
            found[kind] = parse_proxy_url(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if name not in sources:
            sources.append(name)
    no = _first(env, "no_proxy", "NO_PROXY")
    return ProxyRules(
        https=found["https"],
        http=found["http"],
        no_proxy=parse_no_proxy(no[1]) if no else (),
        source=", ".join(sources),
    )
