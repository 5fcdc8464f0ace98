"""Reading a configuration file and the process environment (genesys_pulse.config_sources).

Moved here from tests/core when the file and ``os.environ`` reading left the
pure core; the core's parsing of the same text is tested in tests/core.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from genesys_pulse.config_sources import load_config, read_config_file
from genesys_pulse.core.config import MISSING, ConfigErrors, ConfigWarning, Secret, loads_config

SECRET = "zz-TOP-secret-4f1c9e"
MINIMAL = '[[targets]]\nid = "target-01"\nenvironment = "mypurecloud.ie"\n'


def test_load_config_reads_file_and_config_variable(tmp_path: Path) -> None:
    p = tmp_path / "pulse.toml"
    p.write_text(MINIMAL)
    p.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = load_config(p, {})
        assert cfg.targets[0].id == "target-01"
        assert load_config(None, {"GENESYS_PULSE_CONFIG": str(p)}) == cfg
        env_only = load_config(None, {"GENESYS_PULSE_ENVIRONMENT": "mypurecloud.ie"})
    assert env_only.targets[0].id == "genesys-mypurecloud-ie"


def test_load_config_warns_on_readable_file_with_client_id(tmp_path: Path) -> None:
    p = tmp_path / "pulse.toml"
    p.write_text(MINIMAL + 'client_id = "abc"\n')
    p.chmod(0o640)
    with pytest.warns(ConfigWarning, match="readable by group/others"):
        load_config(p, {})
    p.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(p, {})


def test_load_config_defaults_to_os_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "pulse.toml"
    p.write_text(MINIMAL)
    monkeypatch.setenv("GENESYS_CLOUD_CLIENT_SECRET", SECRET)
    g = load_config(str(p)).targets[0].genesys
    assert g is not None and g.client_secret == Secret(SECRET)
    assert os.environ["GENESYS_CLOUD_CLIENT_SECRET"] == SECRET


def test_read_config_file_gives_text_and_mode(tmp_path: Path) -> None:
    p = tmp_path / "pulse.toml"
    p.write_text(MINIMAL)
    p.chmod(0o640)
    text, mode = read_config_file(str(p))
    assert text == MINIMAL and mode & 0o777 == 0o640


def test_a_toml_error_in_a_file_names_the_file_and_in_text_does_not(tmp_path: Path) -> None:
    bad = 'window = "30s"\n[[targets]\n'
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(ConfigErrors) as from_file:
        load_config(p, {})
    with pytest.raises(ConfigErrors) as from_text:
        loads_config(bad, {})
    assert from_file.value.field == from_text.value.field == "file"
    assert from_file.value.value == str(p) and str(p) in str(from_file.value)
    assert from_text.value.value is MISSING
    assert from_file.value.rule == from_text.value.rule  # one TOML reader, one message


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigErrors, match="is not a regular file"):
        load_config(fifo, {})
