"""The pure core: estimators, windows, threshold machines, schedules,
backoff, Genesys message parsing and configuration.

Nothing in this package opens a socket, reads a clock or imports trio.
Every function takes the time it needs as an argument, so it can be tested
with plain data (the h11/wsproto way).
"""
