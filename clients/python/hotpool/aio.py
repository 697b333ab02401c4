"""The asynchronous client: ``AsyncHotPool`` and its ``AsyncSandbox``, the
same API as the synchronous one, awaited."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from itertools import count
from typing import Any, AsyncIterator, Callable, Dict, List, Mapping, Optional, Union

import httpx

from . import _ops, errors
from ._models import ExecEvent, ExecResult, FileInfo, LogLine, Metrics, Process, Sandbox as SandboxInfo, WarmUpStatus, parse_time
from .client import DEFAULT_URL


class _AsyncTransport:
    def __init__(self, url: str, token: str, http: Optional[httpx.AsyncClient]) -> None:
        self.base = _ops.check_base_url(url)
        self.token = token
        self.http = http or httpx.AsyncClient()

    async def send(self, call: _ops.Call) -> _ops.Response:
        rid = _ops.request_id()
        for attempt in count(1):
            try:
                return await self._once(call, rid)
            except errors.HotPoolError as e:
                wait = _ops.retry_wait(call, e, attempt)
                if wait is None:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _once(self, call: _ops.Call, rid: str) -> _ops.Response:
        url, headers = _ops.prepare(call, self.base, self.token, rid)
        try:
            r = await self.http.request(call.method, url, json=call.body, headers=headers, timeout=call.timeout or None)
        except httpx.TransportError as e:
            raise _ops.transport_error(call, url, e) from None
        return _ops.check(call, r.status_code, r.headers, r.content, url)

    async def run(self, op: _ops.Op) -> Any:
        """drive, awaited: the same steps as the synchronous client's."""
        value: Any = None
        exc: Optional[BaseException] = None
        while True:
            try:
                step = op.throw(exc) if exc is not None else op.send(value)
            except StopIteration as stop:
                return stop.value
            value, exc = None, None
            if isinstance(step, _ops.Sleep):
                await asyncio.sleep(step.seconds)
                continue
            try:
                value = await self.send(step)
            except errors.HotPoolError as e:
                exc = e

    async def events(self, call: _ops.Call) -> AsyncIterator[tuple]:
        url, headers = _ops.prepare(call, self.base, self.token, "")
        sse = _ops.SSE()
        try:
            async with self.http.stream(call.method, url, json=call.body, headers=headers, timeout=call.timeout or None) as r:
                if not 200 <= r.status_code <= 299:
                    await r.aread()
                    _ops.check(call, r.status_code, r.headers, r.content, url)
                async for line in r.aiter_lines():
                    ev = sse.feed(line)
                    if ev is not None:
                        yield ev
        except httpx.ReadTimeout:
            raise _ops.stream_cut(f"no event within {call.timeout:g} s") from None
        except httpx.TransportError as e:
            raise _ops.stream_cut(f"{type(e).__name__}: {e}") from None


class AsyncSandbox:
    """A leased sandbox (see ``hotpool.Sandbox``), awaited."""

    def __init__(self, transport: _AsyncTransport, info: SandboxInfo) -> None:
        self._t = transport
        self.info = info

    id = property(lambda self: self.info.id)
    image = property(lambda self: self.info.image)
    url = property(lambda self: self.info.url)
    source = property(lambda self: self.info.source)
    lease_expires_at = property(lambda self: self.info.lease_expires_at)

    def __repr__(self) -> str:
        return f"AsyncSandbox(id={self.id!r}, image={self.image!r}, source={self.source!r})"

    async def exec(self, command: str, *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                   timeout: Optional[float] = None) -> ExecResult:
        return await self._t.run(_ops.exec_(self.info, command, cwd, env, timeout))

    async def exec_stream(self, command: str, *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                          timeout: Optional[float] = None) -> AsyncIterator[ExecEvent]:
        call = _ops.exec_call(self.info, command, cwd, env, timeout, stream=True)
        async for name, data in self._t.events(call):
            ev = _ops.exec_event(name, data)
            if ev is not None:
                yield ev
                if ev.kind == "exit":
                    return
        raise _ops.stream_cut("the connection closed before the command's exit")

    async def write_file(self, path: str, data: Union[str, bytes]) -> None:
        await self._t.run(_ops.write_file(self.info, path, data))

    async def read_file(self, path: str) -> bytes:
        return await self._t.run(_ops.read_file(self.info, path))

    async def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return (await self.read_file(path)).decode(encoding)

    async def list_files(self, path: Optional[str] = None) -> List[FileInfo]:
        return await self._t.run(_ops.list_files(self.info, path))

    async def start_process(self, command: str, *, cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Process:
        return await self._t.run(_ops.start_process(self.info, command, cwd, env))

    async def processes(self) -> List[Process]:
        return await self._t.run(_ops.processes(self.info))

    async def process(self, pid: int) -> Process:
        return await self._t.run(_ops.process(self.info, pid))

    async def process_logs(self, pid: int, tail: int = 0) -> str:
        return await self._t.run(_ops.process_logs(self.info, pid, tail))

    async def follow_logs(self, pid: int) -> AsyncIterator[LogLine]:
        async for _, data in self._t.events(_ops.follow_call(self.info, pid)):
            d = _ops.json.loads(data)
            yield LogLine(line=d.get("line", ""), time=float(d.get("timestamp") or 0))

    async def kill_process(self, pid: int, signal: int = 15) -> None:
        await self._t.run(_ops.kill_process(self.info, pid, signal))

    def port_url(self, port: int, path: str = "/") -> str:
        return _ops.port_url(self.info, port, path)

    async def port_request(self, method: str, port: int, path: str = "/", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = "Bearer " + self.info.agent_token
        return await self._t.http.request(method, self.port_url(port, path), headers=headers, **kwargs)

    async def renew(self, lease: Optional[float] = None) -> None:
        self.info.lease_expires_at = parse_time(await self._t.run(_ops.renew(self.id, self.info.lease_token, lease)))

    async def release(self) -> Dict[str, Any]:
        return await self._t.run(_ops.release(self.id, self.info.lease_token))

    async def delete(self) -> None:
        try:
            await self.release()
        except (errors.LeaseExpiredError, errors.SandboxNotFoundError):
            pass


class AsyncHotPool:
    """A hotpool deployment (see ``hotpool.HotPool``), awaited."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, http: Optional[httpx.AsyncClient] = None) -> None:
        self._t = _AsyncTransport(url or os.environ.get("HOTPOOL_URL") or DEFAULT_URL,
                                  token if token is not None else os.environ.get("HOTPOOL_API_TOKEN", ""), http)

    async def aclose(self) -> None:
        await self._t.http.aclose()

    async def __aenter__(self) -> "AsyncHotPool":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def acquire(self, image: str, *, lease: Optional[float] = None, wait: Optional[float] = None,
                      idempotency_key: Optional[str] = None, on_cold_start: Optional[Callable[[], None]] = None,
                      timeout: Optional[float] = None) -> AsyncSandbox:
        """See HotPool.acquire. A cancelled task cancels its claim."""
        op = _ops.Acquire(image, lease, wait, idempotency_key, on_cold_start, timeout)
        try:
            return AsyncSandbox(self._t, await self._t.run(op.steps()))
        except BaseException:
            if op.claim_id:
                try:
                    await asyncio.shield(self._t.run(op.cancel()))
                except (errors.HotPoolError, asyncio.CancelledError):
                    pass
            raise

    @asynccontextmanager
    async def sandbox(self, image: str, **kwargs: Any) -> AsyncIterator[AsyncSandbox]:
        """``async with pool.sandbox("python") as sb:``: always released, on
        error and on cancellation too."""
        sb = await self.acquire(image, **kwargs)
        try:
            yield sb
        finally:
            await asyncio.shield(sb.delete())

    def attach(self, sandbox_id: str, url: str, agent_token: str, lease_token: str = "") -> AsyncSandbox:
        return AsyncSandbox(self._t, SandboxInfo(sandbox_id, "", "", url, "", "", "", lease_token, None, agent_token))

    async def renew(self, sandbox_id: str, lease_token: str, lease: Optional[float] = None) -> Any:
        return await self._t.run(_ops.renew(sandbox_id, lease_token, lease))

    async def release(self, sandbox_id: str, lease_token: str) -> Dict[str, Any]:
        return await self._t.run(_ops.release(sandbox_id, lease_token))

    async def metrics(self) -> Metrics:
        return await self._t.run(_ops.metrics())

    async def metrics_prometheus(self) -> str:
        return await self._t.run(_ops.metrics_prometheus())

    async def warm_up(self, timeout: float, *, interval: Optional[float] = None,
                      progress: Optional[Callable[[Dict[str, dict]], None]] = None) -> WarmUpStatus:
        return await self._t.run(_ops.warm_up(timeout, interval, progress))

    async def reconcile(self) -> Dict[str, Any]:
        return await self._t.run(_ops.reconcile())

    async def shutdown(self, pool: Optional[str] = None) -> Dict[str, Any]:
        return await self._t.run(_ops.admin("shutdown", pool))

    async def start(self, pool: Optional[str] = None) -> Dict[str, Any]:
        return await self._t.run(_ops.admin("start", pool))
