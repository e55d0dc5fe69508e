from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from tui.core.local_server import LocalServer, LocalServerError, ServerConfig


def test_config_keeps_every_listener_on_loopback() -> None:
    config = json.loads(ServerConfig.generate().to_yaml())
    assert config["bind_addresses"] == ["127.0.0.1"]
    assert config["rtc"]["tcp_port"] == 0
    assert config["rtc"]["node_ip"] == "127.0.0.1"
    assert config["rtc"]["use_external_ip"] is False
    assert config["rtc"]["interfaces"] == {"includes": ["lo"]}


def test_generated_credentials_are_fresh_and_long() -> None:
    first, second = ServerConfig.generate(), ServerConfig.generate()
    assert first.api_key != second.api_key
    assert len(first.api_secret) >= 32
    assert first.api_secret not in repr(first)


def _listening_sockets(pid: int) -> list[str]:
    out = subprocess.run(["ss", "-lntupH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[4] for line in out.splitlines() if f"pid={pid}," in line]


def test_server_answers_and_listens_only_on_loopback(livekit_server: LocalServer) -> None:
    with urllib.request.urlopen(livekit_server.config.http_url + "/", timeout=2) as reply:
        assert reply.status == 200
    assert livekit_server.pid is not None
    addresses = _listening_sockets(livekit_server.pid)
    assert addresses, "the server should have listening sockets"
    assert all(address.startswith("127.0.0.1:") for address in addresses), addresses


def test_stop_reaps_the_child_and_is_idempotent() -> None:
    server = LocalServer()
    server.start()
    process_id = server.pid
    assert server.running
    server.stop()
    server.stop()
    assert not server.running
    assert process_id is not None
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(process_id, 0)


def test_missing_binary_gives_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_SERVER_BIN", "/nonexistent/livekit-server")
    with pytest.raises(LocalServerError, match=r"LIVEKIT_SERVER_BIN=.*not an executable"):
        LocalServer().start()


def test_child_that_exits_during_start_up_is_reported(tmp_path: object) -> None:
    from pathlib import Path

    fake = Path(str(tmp_path)) / "livekit-server"
    fake.write_text("#!/bin/sh\necho 'bad config' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = LocalServer(binary=fake)
    with pytest.raises(LocalServerError, match=r"exited with code 3.*bad config"):
        server.start(timeout_s=5)
    assert not server.running
