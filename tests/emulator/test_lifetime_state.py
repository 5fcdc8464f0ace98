"""Property tests of the emulator state's limits (pure: ``now`` is passed in)."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.emulator import EmulatorSettings, EmulatorState

ID_RE = re.compile(r"^streaming-\d-[a-z0-9]{26}$")

ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 1)),
        st.tuples(st.just("subscribe"), st.integers(0, 40)),
        st.tuples(st.just("connect"), st.integers(0, 40)),
        st.tuples(st.just("disconnect"), st.integers(0, 40)),
        st.tuples(st.just("sleep"), st.integers(1, 30_000)),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_channel_limits_hold(steps: list[tuple[str, int]]) -> None:
    cfg = EmulatorSettings(seed=1, max_channels=4, channel_ttl=86400.0, token_ttl=10**6)
    state = EmulatorState(
        cfg,
        random.Random(1),
        api_url="http://h",
        ws_url="ws://h",
        clock_origin=0.0,
        wall_origin=0.0,
    )
    state.add_client("a", "x")
    state.add_client("b", "y")
    now = 0.0
    tokens = [state.issue_token("a", now), state.issue_token("b", now)]
    created: list[str] = []
    last_subscribe: dict[str, float] = {}
    for op, arg in steps:
        if op == "create":
            token = tokens[arg]
            before = [
                c
                for c in state.channels.values()
                if c.is_open(now) and c.client_id == token.client_id
            ]
            idle_before = {c.id for c in before if c.session is None}
            evicted_before = len(state.evicted)
            channel = state.create_channel(token, now)
            assert ID_RE.match(channel.id)
            assert channel.id not in created
            created.append(channel.id)
            last_subscribe[channel.id] = now
            for victim in state.evicted[evicted_before:]:
                # the oldest idle channel goes first when there is one
                if idle_before:
                    assert victim in idle_before
        elif created:
            channel_state = state.channels.get(created[arg % len(created)])
            if channel_state is None or not channel_state.is_open(now):
                pass
            elif op == "subscribe":
                state.add_topics(channel_state, [f"v2.users.{arg}.presence"], False, False, now)
                last_subscribe[channel_state.id] = now
            elif op == "connect":
                state.attach_session(channel_state, object())
            elif op == "disconnect" and channel_state.session is not None:
                state.detach_session(channel_state, channel_state.session)
        if op == "sleep":
            now += arg
        for client in ("a", "b"):
            alive = [c for c in state.channels.values() if c.client_id == client and c.is_open(now)]
            assert len(alive) <= cfg.max_channels
        for cid, channel_state in list(state.channels.items()):
            assert channel_state.expires_at == last_subscribe[cid] + cfg.channel_ttl
            assert (state.get_channel(cid, now) is not None) == (now < channel_state.expires_at)
