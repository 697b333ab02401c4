"""The Python clients' tests run against a real ``hotpool serve`` (built from
this repository with go, started on a free port with the simulated App
Platform and its agent), never a fake of it, except the few that need a
server to misbehave on purpose (httpx.MockTransport)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TOKEN = "py-test-token"

CONFIG = """{
  "pools": {
    "python": {"target_ready": 3, "max_ready": 10},
    "node":   {"target_ready": 1, "max_ready": 1, "on_empty": "fail"},
    "cold":   {"target_ready": 0, "max_ready": 3, "on_empty": "create", "template": {"repository": "sandbox-python-service"}},
    "empty":  {"target_ready": 0, "max_ready": 1, "on_empty": "fail", "template": {"repository": "sandbox-python-service"}}
  },
  "max_total_sandboxes": 40
}"""


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def hotpool_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The hotpool binary: $HOTPOOL_BIN, or built from this repository."""
    if os.environ.get("HOTPOOL_BIN"):
        return os.environ["HOTPOOL_BIN"]
    go = shutil.which("go") or "/usr/local/go/bin/go"
    out = tmp_path_factory.mktemp("bin") / "hotpool"
    subprocess.run([go, "build", "-o", str(out), "./cmd/hotpool"], cwd=REPO, check=True)
    return str(out)


@pytest.fixture(scope="session")
def server(hotpool_bin: str, tmp_path_factory: pytest.TempPathFactory):
    """A running hotpool serve; yields its base URL and sets HOTPOOL_URL and
    HOTPOOL_API_TOKEN for the code under test."""
    cfg = tmp_path_factory.mktemp("cfg") / "config.json"
    cfg.write_text(CONFIG)
    port = _free_port()
    env = dict(os.environ, HOTPOOL_API_TOKEN=TOKEN, REDIS_URL="")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [hotpool_bin, "serve", "--config", str(cfg), "--addr", f"127.0.0.1:{port}",
         "--sim-create-delay", "300ms", "--reconcile-every", "200ms", "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    url = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    if not url:
        proc.kill()
        log.seek(0)
        raise RuntimeError("hotpool serve did not start: " + log.read().decode())
    # Keep reading what serve prints, so a full pipe never blocks it.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    os.environ["HOTPOOL_URL"], os.environ["HOTPOOL_API_TOKEN"] = url, TOKEN
    from hotpool import HotPool

    with HotPool() as hp:
        hp.warm_up(60)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
