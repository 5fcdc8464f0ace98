"""``run --emulator --emulator-setting KEY=VALUE`` reads durations with the one grammar."""

from __future__ import annotations

import pytest

from genesys_pulse.cli._run import _parse_settings
from genesys_pulse.core.config import ConfigError
from genesys_pulse.emulator import EmulatorSettings


def test_a_duration_setting_takes_a_unit() -> None:
    out = _parse_settings(["heartbeat_period=5s", "channel_ttl=2min", "idle_timeout=1.5e3ms"])
    assert out == {"heartbeat_period": 5.0, "channel_ttl": 120.0, "idle_timeout": 1.5}
    assert EmulatorSettings(**out).heartbeat_period == 5.0


def test_plain_numbers_and_other_settings_are_unchanged() -> None:
    out = _parse_settings(["heartbeat_period=7", "token_ttl=300", "control_pongs=false"])
    assert out == {"heartbeat_period": 7, "token_ttl": 300, "control_pongs": False}


def test_a_bad_duration_is_one_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as info:
        _parse_settings(["heartbeat_period=soon"])
    assert info.value.field == "--emulator-setting"
    assert "(heartbeat_period) is not a duration" in str(info.value)
