"""Reading a configuration file and the process environment (genesys_pulse.config_sources).

Moved here from tests/core when the file and ``os.environ`` reading left the
pure core; the core's parsing of the same text is tested in tests/core.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from genesys_pulse.config_sources import load_config
from genesys_pulse.core.config import ConfigWarning, Secret

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
