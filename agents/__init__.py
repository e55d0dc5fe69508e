"""LiveKit side of dispatch-tui: the multi-agent worker, its agents, scenarios and voices.

Never imports ``tui`` or ``textual``.
"""
