"""Where a configuration comes from: the TOML file and the process environment.

The core parses and validates plain data (:func:`genesys_pulse.core.config.parse_config`
takes a mapping and an explicit environment mapping) and never reads a file
or ``os.environ``; this module is the thin I/O shell around it, used by the
command line and the OpenTelemetry plugin. Everything it reads is handed to
the core as plain data, so every rule (and every error message) stays in one
place.

The file checks, each one line naming the file and the cause:

* it must be a regular file - ``stat`` first, because opening a FIFO or a
  device could block or never end, and ``fstat`` again on the open file;
* at most :data:`~genesys_pulse.core.config.MAX_CONFIG_BYTES` (1 MiB) and
  UTF-8 text;
* readable by group or others while holding a ``client_id``: works, with a
  :class:`~genesys_pulse.core.config.ConfigWarning` suggesting ``chmod 600``.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Mapping
from typing import Any

from genesys_pulse.core.config import (
    CONFIG_ENV,
    MAX_CONFIG_BYTES,
    ConfigErrors,
    ConfigWarning,
    MonitorConfig,
    config_file_error,
    parse_config,
    parse_toml,
)

__all__ = ["load_config", "read_config_file"]


def load_config(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> MonitorConfig:
    """Read a TOML configuration file and validate it.

    With *path* ``None`` the file named by ``GENESYS_PULSE_CONFIG`` in *env*
    is read; if that is unset too, the configuration comes from the
    ``GENESYS_PULSE_*`` variables alone. *env* ``None`` means ``os.environ``.

    Emits a :class:`~genesys_pulse.core.config.ConfigWarning`
    (``warnings.warn``) when the file is readable by group or others and
    holds a ``client_id``.

    Raises :class:`~genesys_pulse.core.config.ConfigErrors` for an unreadable
    file, a file over 1 MiB, invalid UTF-8 or TOML, and every validation
    problem.
    """
    if env is None:
        env = os.environ
    if path is None:
        path = env.get(CONFIG_ENV) or None
        if path is None:
            return parse_config({}, env)
    name = os.fspath(path)
    text, mode = read_config_file(name)
    data = parse_toml(text, source=name)
    config = parse_config(data, env)
    if os.name == "posix" and mode & 0o077 and _has_client_id(data):
        warnings.warn(
            f"{name} holds a client_id and is readable by group/others "
            f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {name}",
            ConfigWarning,
            stacklevel=2,
        )
    return config


def read_config_file(name: str) -> tuple[str, int]:
    """Return the text of the configuration file *name* and its ``st_mode``.

    Raises :class:`~genesys_pulse.core.config.ConfigErrors` (field ``file``)
    when it is not a regular file, cannot be read, is over 1 MiB or is not
    UTF-8.
    """
    try:
        # stat first: opening a FIFO or a device could block or never end
        if not stat.S_ISREG(os.stat(name).st_mode):
            raise config_file_error(name, "is not a regular file")
        with open(name, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise config_file_error(name, "is not a regular file")
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise config_file_error(name, f"cannot be read ({e.strerror or e})") from None
    except ConfigErrors:
        raise
    except ValueError:  # e.g. an embedded NUL in the path
        raise config_file_error(name, "is not a usable file name") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise config_file_error(name, "is larger than 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise config_file_error(name, f"is not UTF-8 text (byte {e.start})") from None
    return text, st.st_mode


def _has_client_id(data: Mapping[str, Any]) -> bool:
    targets = data.get("targets")
    if not isinstance(targets, list):
        return False
    return any(isinstance(t, Mapping) and "client_id" in t for t in targets)
