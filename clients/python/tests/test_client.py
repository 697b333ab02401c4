"""The synchronous client against a real hotpool serve."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

import hotpool
from hotpool import HotPool, _ops


@pytest.fixture
def hp(server):
    with HotPool() as c:
        yield c


def _port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_acquire_exec_files_release(hp):
    with hp.sandbox("python") as sb:
        assert sb.source == "pool"
        assert "token" not in repr(sb) and sb.info.agent_token not in repr(sb.info)
        r = sb.exec("echo $((6*7)); echo oops >&2; exit 3", env={"A": "b"})
        assert (r.stdout, r.stderr, r.exit_code) == ("42\n", "oops\n", 3)
        sb.write_file("/workspace/data/in.bin", b"\x00\xffbytes")
        assert sb.read_file("/workspace/data/in.bin") == b"\x00\xffbytes"
        sb.filesystem.write_file("/tmp/user_code.py", "print(6*7)\n")
        assert sb.filesystem.read_file("/tmp/user_code.py") == "print(6*7)\n"
        names = {f.name: f for f in sb.list_files()}
        assert names["data"].is_dir
        with pytest.raises(hotpool.PathNotAllowedError):
            sb.read_file("/etc/passwd")
        with pytest.raises(hotpool.FileNotFoundInSandboxError):
            sb.read_file("/workspace/nope")
        with pytest.raises(hotpool.NotADirectoryInSandboxError):
            sb.list_files("/workspace/data/in.bin")
        with pytest.raises(hotpool.ExecTimeoutError):
            sb.exec("sleep 5", timeout=1)
        with pytest.raises(hotpool.InvalidRequestError):
            sb.exec("  ")
        sb.renew(1200)
        assert sb.lease_expires_at is not None
        kept = sb
    # Released on leaving the block: its agent is gone.
    deadline = time.monotonic() + 10
    while True:
        try:
            kept.exec("true")
        except hotpool.SandboxGoneError as e:
            assert "acquire another" in str(e)
            break
        assert time.monotonic() < deadline, "the released sandbox kept answering"
        time.sleep(0.05)
    assert kept.release()["sandbox_id"] == kept.id, "repeating a release is safe"


def test_context_manager_releases_on_error(hp):
    with pytest.raises(RuntimeError):
        with hp.sandbox("python") as sb:
            sid = sb.id
            raise RuntimeError("boom")
    deadline = time.monotonic() + 10
    while hp.metrics().pools["python"].in_use and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hp.metrics().pools["python"].in_use == 0, sid


def test_exec_stream_yields_lines_as_they_happen(hp):
    with hp.sandbox("python") as sb:
        got = []
        for ev in sb.exec_stream("for i in 1 2 3; do echo $i; sleep 0.5; done; echo done >&2; exit 4"):
            got.append((ev.kind, ev.line, time.monotonic()))
        kinds = [(k, l) for k, l, _ in got]
        assert kinds == [("stdout", "1"), ("stdout", "2"), ("stdout", "3"), ("stderr", "done"), ("exit", "")]
        assert got[-1][2] - got[0][2] >= 0.9, "the first line came before the command ended"
        with pytest.raises(hotpool.ExecTimeoutError):
            list(sb.exec_stream("echo a; sleep 5", timeout=1))


def test_background_server_through_the_proxy(hp):
    port = _port()
    with hp.sandbox("python") as sb:
        sb.write_file("/workspace/site/index.html", "hi from the sandbox\n")
        p = sb.start_process(f"python3 -u -m http.server {port} --bind 127.0.0.1", cwd="/workspace/site")
        deadline = time.monotonic() + 15
        while True:
            r = sb.port_request("GET", port, "/index.html")
            if r.status_code == 200:
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.1)
        assert r.text == "hi from the sandbox\n"
        assert [q.pid for q in sb.processes()] == [p.pid]
        assert sb.process(p.pid).status == "running"
        assert "GET /index.html" in sb.process_logs(p.pid)
        assert sb.process_logs(p.pid, tail=1).count("\n") == 1
        follow = sb.follow_logs(p.pid)
        assert next(follow).line.startswith("Serving HTTP on 127.0.0.1"), "a follow starts with the log's last lines"
        follow.close()
        sb.kill_process(p.pid)
        deadline = time.monotonic() + 5
        while sb.process(p.pid).status != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(hotpool.ProcessNotRunningError):
            sb.kill_process(p.pid, 9)
        with pytest.raises(hotpool.ProcessNotFoundError):
            sb.process(999999)


def test_api_errors_carry_code_request_id_and_retry_after(hp, server):
    with pytest.raises(hotpool.UnknownImageError) as e:
        hp.acquire("ruby")
    assert e.value.code == "unknown_image" and e.value.status == 404 and e.value.request_id
    sb = hp.acquire("node")
    try:
        with pytest.raises(hotpool.PoolExhaustedError) as e:
            hp.acquire("node")
        assert e.value.code == "pool_exhausted"
    finally:
        sb.release()
    with HotPool(server, "wrong-token") as bad:
        with pytest.raises(hotpool.UnauthorizedError) as e:
            bad.metrics()
    assert "HOTPOOL_API_TOKEN" in str(e.value)
    with pytest.raises(hotpool.InvalidRequestError):
        HotPool(server + "/acquire", "x")


def test_idempotent_acquire_replays_the_same_sandbox(hp):
    a = hp.acquire("python", idempotency_key="py-key-1")
    b = hp.acquire("python", idempotency_key="py-key-1")
    try:
        assert a.id == b.id and b.info.replayed
    finally:
        a.release()


def test_cold_start_follows_the_claim_and_a_timeout_cancels_it(hp):
    calls = []
    sb = hp.acquire("cold", on_cold_start=lambda: calls.append(1))
    try:
        assert sb.source == "cold" and calls == [1]
    finally:
        sb.release()
    with pytest.raises(hotpool.HotPoolError) as e:
        hp.acquire("cold", timeout=0.05)
    assert e.value.code == "cold_start_timeout"
    deadline = time.monotonic() + 10
    while hp.metrics().pools["cold"].ready < 1:
        assert time.monotonic() < deadline, "the cancelled claim's sandbox joins the pool"
        time.sleep(0.05)


def test_metrics_warm_up_and_admin(hp):
    m = hp.metrics()
    assert set(m.pools) == {"python", "node", "cold", "empty"}
    assert m.pools["python"].target_ready == 3
    assert "# TYPE hotpool_acquires_total counter" in hp.metrics_prometheus()
    seen = []
    st = hp.warm_up(30, progress=seen.append)
    assert st.done and seen and seen[-1]["python"]["target"] == 3
    assert hp.shutdown("empty")["shutdown"] is True
    with pytest.raises(hotpool.PoolShutdownError):
        hp.acquire("empty")
    assert hp.start("empty")["shutdown"] is False
    assert "pools" in hp.reconcile()


# The retry rules, against servers that fail on purpose.


def _mock(handler):
    return HotPool("http://hotpool.test", "t", http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_unavailable_is_retried_and_exec_never_is(monkeypatch):
    monkeypatch.setattr(_ops, "backoff", lambda attempt, ra=None: 0)
    seen = []

    def flaky(req):
        seen.append(req.url.path)
        if len(seen) < 3:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "redis"}}, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"pools": {}, "total_sandboxes": 0})

    assert _mock(flaky).metrics().total_sandboxes == 0
    assert seen == ["/metrics"] * 3

    seen.clear()

    def gateway(req):
        seen.append(req.url.path)
        return httpx.Response(502, text="bad gateway")

    with pytest.raises(hotpool.UnavailableError):
        _mock(gateway).renew("sb", "lease", 60)
    assert seen == ["/acquire/renew"], "a renew is not idempotent: a gateway error is not retried"
    seen.clear()
    with pytest.raises(hotpool.UnavailableError):
        _mock(gateway).release("sb", "lease")
    assert len(seen) == _ops.MAX_ATTEMPTS, "a release is: retried up to the attempts"

    seen.clear()

    def agent(req):
        seen.append(req.url.path)
        return httpx.Response(503, json={"detail": "busy"})

    sb = _mock(agent).attach("sb", "http://agent.test", "agent-tok")
    with pytest.raises(hotpool.AgentError):
        sb.exec("make")
    assert seen == ["/api/exec"], "an exec is never retried"


def test_warm_up_timeout_names_the_lagging_pools(monkeypatch):
    def slow(req):
        return httpx.Response(504, json={"error": {"code": "warm_up_timeout", "message": "not yet",
                                                   "details": {"done": False, "pools": {"python": {"ready": 1, "target": 3}, "node": {"ready": 1, "target": 1}}}}})

    with pytest.raises(hotpool.WarmUpTimeoutError) as e:
        _mock(slow).warm_up(0.3, interval=0.1)
    assert e.value.lagging == {"python": {"ready": 1, "target": 3}}
    assert "python 1/3" in str(e.value)


def test_a_stream_cut_midway_says_the_output_may_be_incomplete():
    def cut(req):
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"},
                              content=b'event: stdout\ndata: {"line": "partial", "timestamp": 1}\n\n')

    sb = _mock(cut).attach("sb", "http://agent.test", "tok")
    events = []
    with pytest.raises(hotpool.StreamIncompleteError) as e:
        for ev in sb.exec_stream("make"):
            events.append(ev.line)
    assert events == ["partial"]
    assert "may be incomplete" in str(e.value)
