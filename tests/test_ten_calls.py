"""Calls at once on one worker: every line of every call reaches a hidden observer, final.

Six calls, beyond the five this 2-core machine's worker admits by itself (its capacity is fixed
for the suite). Ten at once (twenty rooms in one worker process) hung a call's start in about
one full-suite run in three: the rooms' SDK engines stopped negotiating (the server logged
"publish time out" and "track not bound after timeout" for 120 s; see
``agents/ready_watch.py``), which is an overload the worker's admission exists to refuse.

The dashboard's worker (thread executor) runs in a process of its own (``WorkerHost``) on a
server of this test's own; each room gets the dashboard's observer. Lines were lost here for three
reasons, each fixed at its cause (see ``agents/call_job.py``): an agent left while its last
transcript was still on the way (it now waits for the other's receipts, ``agents/room_receipts.py``)
or before a busy observer had read it (it lingers 1 s), and the SDK's transcript synchronizer,
pacing words by wall-clock on a starved job loop, closed segments with their last words unsent
(transcripts are now sent as produced).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_every_line_arrived, scaled
from reliability_support import wait_until_jobs_dispatched

from tui.cluster.load import ClusterSession, run_conversations
from tui.core.local_server import LocalServer
from tui.core.worker_host import WorkerHost

pytestmark = pytest.mark.e2e

CALLS = 6


async def test_ten_calls_on_one_worker_lose_no_line(
    own_server: LocalServer, tmp_path: Path
) -> None:
    server = own_server
    async with (
        WorkerHost(server, tmp_path) as host,
        ClusterSession([server.url], server.api_key, server.api_secret) as session,
    ):
        await wait_until_jobs_dispatched(server, scaled(60))
        result = await run_conversations(session, CALLS, timeout_s=scaled(120))
        assert host.exit_code is None, host.crash_lines()
    for watch in result.watches:
        assert_every_line_arrived(watch)
