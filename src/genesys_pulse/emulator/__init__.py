"""A faithful Genesys Cloud emulator: OAuth, Notifications REST, streaming WebSocket.

Built on trio + h11 + wsproto, with fault injection and scenarios, for tests and
demos that cannot reach Genesys Cloud. All time is ``trio.current_time()``, so
hours of emulated time run in seconds under :class:`trio.testing.MockClock`
(use :attr:`Emulator.connector` for socket-free connections).

Example::

    async with open_emulator() as emulator:
        print(emulator.login_url, emulator.client_id)
"""

from ._faults import Delay, FaultController, FaultSpec, FaultSpecError, HttpFault, parse_fault_spec
from ._scenarios import Scenario, ScenarioError, builtin_scenarios, load_scenario
from ._server import Emulator, MemoryConnector, open_emulator
from ._settings import EmulatorSettings
from ._state import ChannelState, ChannelTopic, EmulatorState

__all__ = [
    "ChannelState",
    "ChannelTopic",
    "Delay",
    "Emulator",
    "EmulatorSettings",
    "EmulatorState",
    "FaultController",
    "FaultSpec",
    "FaultSpecError",
    "HttpFault",
    "MemoryConnector",
    "Scenario",
    "ScenarioError",
    "builtin_scenarios",
    "load_scenario",
    "open_emulator",
    "parse_fault_spec",
]
