"""The synchronous client: ``HotPool`` and its ``Sandbox``."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from itertools import count
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Union

import httpx

from . import _ops, errors
from ._models import ExecEvent, ExecResult, FileInfo, LogLine, Metrics, Process, Sandbox as SandboxInfo, WarmUpStatus, parse_time

DEFAULT_URL = "http://127.0.0.1:8080"


class _Transport:
    """Sends Calls over one httpx.Client, retrying what the rules allow."""

    def __init__(self, url: str, token: str, http: Optional[httpx.Client]) -> None:
        self.base = _ops.check_base_url(url)
        self.token = token
        self.http = http or httpx.Client()

    def send(self, call: _ops.Call) -> _ops.Response:
        rid = _ops.request_id()
        for attempt in count(1):
            try:
                return self._once(call, rid)
            except errors.HotPoolError as e:
                wait = _ops.retry_wait(call, e, attempt)
                if wait is None:
                    raise
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _once(self, call: _ops.Call, rid: str) -> _ops.Response:
        url, headers = _ops.prepare(call, self.base, self.token, rid)
        try:
            r = self.http.request(call.method, url, json=call.body, headers=headers, timeout=call.timeout or None)
        except httpx.TransportError as e:
            raise _ops.transport_error(call, url, e) from None
        return _ops.check(call, r.status_code, r.headers, r.content, url)

    def run(self, op: _ops.Op) -> Any:
        return _ops.drive(op, self.send, time.sleep)

    def lines(self, call: _ops.Call) -> Iterator[str]:
        """The lines of a streamed answer, as they arrive. Never retried."""
        url, headers = _ops.prepare(call, self.base, self.token, "")
        try:
            with self.http.stream(call.method, url, json=call.body, headers=headers, timeout=call.timeout or None) as r:
                if not 200 <= r.status_code <= 299:
                    r.read()
                    _ops.check(call, r.status_code, r.headers, r.content, url)
                yield from r.iter_lines()
        except httpx.ReadTimeout:
            raise _ops.stream_cut(f"no event within {call.timeout:g} s") from None
        except httpx.TransportError as e:
            raise _ops.stream_cut(f"{type(e).__name__}: {e}") from None

    def events(self, call: _ops.Call) -> Iterator[tuple]:
        sse = _ops.SSE()
        for line in self.lines(call):
            ev = sse.feed(line)
            if ev is not None:
                yield ev


class Sandbox:
    """A leased sandbox. Single use: ``release()`` (or ``delete()``) destroys
    it. ``exec``, the files and the processes talk to its agent with the agent
    token acquire handed out; none of them is retried."""

    def __init__(self, transport: _Transport, info: SandboxInfo) -> None:
        self._t = transport
        self.info = info
        self.filesystem = _Filesystem(self)

    id = property(lambda self: self.info.id)
    image = property(lambda self: self.info.image)
    url = property(lambda self: self.info.url)
    source = property(lambda self: self.info.source)
    lease_expires_at = property(lambda self: self.info.lease_expires_at)

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r}, image={self.image!r}, source={self.source!r})"

    def exec(self, command: str, *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
             timeout: Optional[float] = None) -> ExecResult:
        """Runs command through the sandbox's shell and returns its output at
        the end. Past ``timeout`` (120 s by default) it is killed:
        ExecTimeoutError, with no output."""
        return self._t.run(_ops.exec_(self.info, command, cwd, env, timeout))

    def exec_stream(self, command: str, *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                    timeout: Optional[float] = None) -> Iterator[ExecEvent]:
        """Runs command and yields each line of stdout and stderr as it is
        written, then the exit event. ``timeout`` is one of inactivity. A
        stream cut before the exit raises StreamIncompleteError; closing the
        iterator early ends the request, and the agent kills the command."""
        call = _ops.exec_call(self.info, command, cwd, env, timeout, stream=True)
        for name, data in self._t.events(call):
            ev = _ops.exec_event(name, data)
            if ev is not None:
                yield ev
                if ev.kind == "exit":
                    return
        raise _ops.stream_cut("the connection closed before the command's exit")

    def write_file(self, path: str, data: Union[str, bytes]) -> None:
        """Writes data (bytes, or text as UTF-8) to path, creating parents."""
        self._t.run(_ops.write_file(self.info, path, data))

    def read_file(self, path: str) -> bytes:
        """The file's bytes, exactly."""
        return self._t.run(_ops.read_file(self.info, path))

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read_file(path).decode(encoding)

    def list_files(self, path: Optional[str] = None) -> List[FileInfo]:
        return self._t.run(_ops.list_files(self.info, path))

    def start_process(self, command: str, *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Process:
        """Starts command in the background; its output goes to its log file."""
        return self._t.run(_ops.start_process(self.info, command, cwd, env))

    def processes(self) -> List[Process]:
        return self._t.run(_ops.processes(self.info))

    def process(self, pid: int) -> Process:
        return self._t.run(_ops.process(self.info, pid))

    def process_logs(self, pid: int, tail: int = 0) -> str:
        return self._t.run(_ops.process_logs(self.info, pid, tail))

    def follow_logs(self, pid: int) -> Iterator[LogLine]:
        """Follows a process's log like tail -f: its last 10 lines, then each
        new one, until the iterator is closed."""
        for _, data in self._t.events(_ops.follow_call(self.info, pid)):
            d = _ops.json.loads(data)
            yield LogLine(line=d.get("line", ""), time=float(d.get("timestamp") or 0))

    def kill_process(self, pid: int, signal: int = 15) -> None:
        self._t.run(_ops.kill_process(self.info, pid, signal))

    def port_url(self, port: int, path: str = "/") -> str:
        """The URL of a port inside the sandbox, through its agent's proxy."""
        return _ops.port_url(self.info, port, path)

    def port_request(self, method: str, port: int, path: str = "/", **kwargs: Any) -> httpx.Response:
        """Sends a request to a port inside the sandbox with the agent token."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = "Bearer " + self.info.agent_token
        return self._t.http.request(method, self.port_url(port, path), headers=headers, **kwargs)

    def renew(self, lease: Optional[float] = None) -> None:
        """Extends the lease to ``lease`` seconds from now (None: the default)."""
        self.info.lease_expires_at = parse_time(self._t.run(_ops.renew(self.id, self.info.lease_token, lease)))

    def release(self) -> Dict[str, Any]:
        """Destroys the sandbox. Repeating it is safe."""
        return self._t.run(_ops.release(self.id, self.info.lease_token))

    def delete(self) -> None:
        """The seed SDK's name for release: the sandbox is destroyed."""
        try:
            self.release()
        except (errors.LeaseExpiredError, errors.SandboxNotFoundError):
            pass


class _Filesystem:
    """``sandbox.filesystem``, as the seed SDK spells it."""

    def __init__(self, sb: Any) -> None:
        self._sb = sb

    def write_file(self, path: str, content: Union[str, bytes]) -> None:
        self._sb.write_file(path, content)

    def read_file(self, path: str) -> str:
        return self._sb.read_text(path)

    def list_files(self, path: Optional[str] = None) -> List[FileInfo]:
        return self._sb.list_files(path)


class HotPool:
    """A hotpool deployment. ``url`` and ``token`` default to
    ``HOTPOOL_URL`` (or http://127.0.0.1:8080) and ``HOTPOOL_API_TOKEN``."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, http: Optional[httpx.Client] = None) -> None:
        self._t = _Transport(url or os.environ.get("HOTPOOL_URL") or DEFAULT_URL,
                             token if token is not None else os.environ.get("HOTPOOL_API_TOKEN", ""), http)

    def close(self) -> None:
        self._t.http.close()

    def __enter__(self) -> "HotPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def acquire(self, image: str, *, lease: Optional[float] = None, wait: Optional[float] = None,
                idempotency_key: Optional[str] = None, on_cold_start: Optional[Callable[[], None]] = None,
                timeout: Optional[float] = None) -> Sandbox:
        """Leases a ready sandbox of image. An empty pool with on_empty
        "create" answers a claim on a cold sandbox, which is followed until it
        is ready (``on_cold_start`` is called once when that wait begins);
        past ``timeout``, or on an interrupt, the claim is cancelled and its
        sandbox joins the pool. An idempotency key is always sent, so the
        retries are safe."""
        op = _ops.Acquire(image, lease, wait, idempotency_key, on_cold_start, timeout)
        try:
            return Sandbox(self._t, self._t.run(op.steps()))
        except BaseException:
            if op.claim_id:
                try:
                    self._t.run(op.cancel())
                except errors.HotPoolError:
                    pass
            raise

    @contextmanager
    def sandbox(self, image: str, **kwargs: Any) -> Iterator[Sandbox]:
        """``with pool.sandbox("python") as sb:``: always released, on error
        and on interrupt too."""
        sb = self.acquire(image, **kwargs)
        try:
            yield sb
        finally:
            sb.delete()

    def attach(self, sandbox_id: str, url: str, agent_token: str, lease_token: str = "") -> Sandbox:
        """A sandbox another process acquired."""
        return Sandbox(self._t, SandboxInfo(sandbox_id, "", "", url, "", "", "", lease_token, None, agent_token))

    def renew(self, sandbox_id: str, lease_token: str, lease: Optional[float] = None) -> Any:
        return self._t.run(_ops.renew(sandbox_id, lease_token, lease))

    def release(self, sandbox_id: str, lease_token: str) -> Dict[str, Any]:
        return self._t.run(_ops.release(sandbox_id, lease_token))

    def metrics(self) -> Metrics:
        return self._t.run(_ops.metrics())

    def metrics_prometheus(self) -> str:
        return self._t.run(_ops.metrics_prometheus())

    def warm_up(self, timeout: float, *, interval: Optional[float] = None,
                progress: Optional[Callable[[Dict[str, dict]], None]] = None) -> WarmUpStatus:
        """Waits until every pool has target_ready ready sandboxes, calling
        ``progress`` with each pool's ready/target after every poll."""
        return self._t.run(_ops.warm_up(timeout, interval, progress))

    def reconcile(self) -> Dict[str, Any]:
        return self._t.run(_ops.reconcile())

    def shutdown(self, pool: Optional[str] = None) -> Dict[str, Any]:
        """Shuts a pool (None: the whole manager) down. An admin action."""
        return self._t.run(_ops.admin("shutdown", pool))

    def start(self, pool: Optional[str] = None) -> Dict[str, Any]:
        return self._t.run(_ops.admin("start", pool))
