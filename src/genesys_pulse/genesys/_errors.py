"""Errors raised by the Genesys Cloud client. None of them ever holds a token or secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genesys_pulse.transport import FailureCause

__all__ = ["ApiError", "AuthRefused", "GenesysError", "InvalidResponse"]


class GenesysError(Exception):
    """Base class of the errors raised by :mod:`genesys_pulse.genesys`."""


class AuthRefused(GenesysError):
    """The login server refused the client credentials: permanent, never retried.

    Raised for ``400``/``401``/``403`` answers to the token request, most
    commonly ``invalid_client`` (wrong id or secret, or a client created in
    another region).

    Attributes:
      status: The HTTP status.
      error: The OAuth ``error`` code (``"invalid_client"``, ...), or ``""``.
      description: The server's description, for humans.
    """

    def __init__(self, status: int, error: str, description: str = "") -> None:
        self.status = status
        self.error = error
        self.description = description
        msg = f"OAuth client credentials refused (HTTP {status}"
        msg += f", {error})" if error else ")"
        if description:
            msg += f": {description}"
        if error == "invalid_client":
            msg += " - check the client id and secret, and that the environment (region) is right"
        super().__init__(msg)


class ApiError(GenesysError):
    """An HTTP call to Genesys Cloud failed.

    Attributes:
      status: The HTTP status, or ``0`` when no response was received
        (network error or timeout).
      code: Genesys' error ``code`` (e.g. ``"bad.credentials"``,
        ``"too.many.requests.retry.after"``), the OAuth ``error``, or one of
        ours: ``"network.error"``, ``"timeout"``, ``"invalid.response"``.
      message: A short, human-readable message (never a token).
      retry_after: The ``Retry-After`` the server asked for, in seconds, if any.
      cause: For ``status`` 0, why nothing was received
        (:class:`~genesys_pulse.transport.FailureCause`: ``error.type`` such as
        ``name_resolution``, the host, the OS message); else ``None``.
    """

    cause: FailureCause | None = None

    def __init__(
        self, status: int, code: str, message: str = "", *, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        what = f"HTTP {status}" if status else "no response"
        text = f"Genesys Cloud API error ({what}, {code})"
        if message:
            text += f": {message}"
        super().__init__(text)


class InvalidResponse(ApiError):
    """A successful response did not have the expected shape.

    Attributes:
      field: The missing or invalid field (dotted path, e.g. ``"expires"``).
    """

    def __init__(self, status: int, field: str, problem: str) -> None:
        self.field = field
        super().__init__(status, "invalid.response", f"field {field!r}: {problem}")
