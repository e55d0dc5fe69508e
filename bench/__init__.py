"""Benchmarks for dispatch-tui: ``python -m bench`` (or ``make bench``).

Everything runs against a real loopback livekit-server with the offline voice, so the numbers
need no network and no API key. See ``bench/__main__.py`` for the stages and their flags.
"""
