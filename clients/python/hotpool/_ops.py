"""The protocol, without I/O: what to send, how to read the answer, and what
may be retried. Each operation is a generator that yields ``Call`` (send it,
send back the ``Response``) and ``Sleep`` (wait), so the sync and the async
client drive the very same steps and cannot drift apart.

The retry rules are the Go client's (client/client.go): a request answered
503 ``unavailable`` may be sent again; an idempotent one (metrics, an acquire
with its idempotency key, a release, the admin actions) also after a transport
error or a gateway's 502/504; at most 4 tries, backing off from 0.1 s
(doubling, jittered, at least the server's Retry-After, at most 5 s). Nothing
sent to a sandbox's agent is ever retried: a command may not be safe to run
twice."""

from __future__ import annotations

import base64
import json
import math
import random
import secrets
from itertools import count
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generator, Mapping, Optional, Union
from urllib.parse import quote, urlsplit

from . import errors
from ._models import (
    ExecEvent,
    ExecResult,
    FileInfo,
    Metrics,
    Process,
    Sandbox as SandboxInfo,
    WarmUpStatus,
)

USER_AGENT = "hotpool-python-client/0.1"
MAX_ATTEMPTS = 4
MIN_BACKOFF = 0.1
MAX_BACKOFF = 5.0
REQUEST_TIMEOUT = 60.0  # one try of an API request; an agent call without its own timeout
AGENT_DEFAULT_TIMEOUT = 120.0  # the agent's own exec timeout
EXEC_GRACE = 10.0  # how much longer than a command's timeout the client waits
MAX_WAIT = 25.0  # the longest server-side wait an acquire or a warm-up poll may ask for
RELEASE_TIMEOUT = 10.0


@dataclass
class Call:
    """One HTTP request. ``agent`` sends it to a sandbox's agent (its URL and
    agent token) instead of the API."""

    method: str
    path: str
    body: Any = None
    idempotent: bool = False
    accept: str = "application/json"
    timeout: float = REQUEST_TIMEOUT
    agent: Optional[SandboxInfo] = None


@dataclass
class Sleep:
    seconds: float


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as e:
            raise errors.HotPoolError(f"unexpected answer ({e}): {snippet(self.body)}") from None


Step = Union[Call, Sleep]
Op = Generator[Step, Any, Any]


def snippet(b: bytes, n: int = 200) -> str:
    s = b.decode("utf-8", "replace").strip().replace("\n", " ")
    return s if len(s) <= n else s[:n] + "…"


def request_id() -> str:
    return "hpc-" + secrets.token_hex(8)


def new_key() -> str:
    return secrets.token_urlsafe(18)


def check_base_url(url: str) -> str:
    """The deployment's base URL, checked as the Go client checks it."""
    u = urlsplit((url or "").strip().rstrip("/"))
    if u.scheme not in ("http", "https") or not u.netloc:
        raise errors.InvalidRequestError(f"base URL {url!r} must be an http(s) URL such as http://127.0.0.1:8080")
    if u.query or u.fragment:
        raise errors.InvalidRequestError(f"base URL {url!r} must not carry a query or fragment")
    for fn in ("acquire", "release", "metrics", "reconcile"):
        if u.path.endswith("/" + fn):
            base = f"{u.scheme}://{u.netloc}{u.path[: -len(fn) - 1]}"
            raise errors.InvalidRequestError(f"base URL {url!r} is the {fn} function's URL; use the deployment's base URL, {base}")
    return f"{u.scheme}://{u.netloc}{u.path}"


def seconds(v: Optional[float]) -> int:
    """A duration in whole seconds, rounded up (0 for None)."""
    return 0 if not v else int(math.ceil(v))


def parse_retry_after(v: Optional[str]) -> Optional[float]:
    if not v:
        return None
    try:
        return max(float(v), 0.0)
    except ValueError:
        return None


def backoff(attempt: int, retry_after: Optional[float] = None) -> float:
    d = min(MIN_BACKOFF * (2 ** min(attempt - 1, 16)), MAX_BACKOFF)
    d = d / 2 + random.random() * d / 2
    if retry_after and retry_after > d:
        d = retry_after
    return min(d, MAX_BACKOFF)


def retry_wait(call: Call, err: BaseException, attempt: int) -> Optional[float]:
    """How long to wait before trying ``call`` again after ``err``; None: do not."""
    if call.agent is not None or attempt >= MAX_ATTEMPTS:
        return None
    if isinstance(err, errors.HotPoolError) and err.status:
        if err.status == 503 and err.code == "unavailable":
            return backoff(attempt, err.retry_after)
        if call.idempotent and err.status in (502, 504) and err.code == "unavailable":
            return backoff(attempt, err.retry_after)
        return None
    if call.idempotent and isinstance(err, errors.UnavailableError):
        return backoff(attempt)
    return None


def fallback_code(status: int) -> str:
    if status == 401:
        return "unauthorized"
    if status == 404:
        return "not_found"
    if status in (502, 503, 504):
        return "unavailable"
    if status >= 500:
        return "internal"
    return "invalid_request"


def api_error(status: int, headers: Mapping[str, str], body: bytes, where: str) -> errors.HotPoolError:
    """The error of a non-2xx API answer: its stable code's class."""
    rid = headers.get("x-request-id", "")
    ra = parse_retry_after(headers.get("retry-after"))
    code, message, details = "", "", None
    try:
        doc = json.loads(body)
        e = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(e, dict) and e.get("code"):
            code, message, details = e["code"], e.get("message", ""), e.get("details")
    except ValueError:
        pass
    if not code:
        code, message = fallback_code(status), f"HTTP {status} {snippet(body)}"
        if status == 404:
            message += f" ({where}: is the URL the base URL of a hotpool deployment, such as http://127.0.0.1:8080?)"
    if status == 401 and code == "unauthorized":
        message += " (set HOTPOOL_API_TOKEN, or pass token=, to the deployment's API token)"
    cls = errors.BY_CODE.get(code)
    if cls is None:
        cls = errors.BY_CODE[fallback_code(status)]
    kw: Dict[str, Any] = dict(code=code, status=status, request_id=rid, retry_after=ra, details=details)
    if cls is errors.WarmUpTimeoutError:
        lag = {}
        if isinstance(details, dict):
            lag = {k: v for k, v in (details.get("pools") or {}).items() if v.get("ready", 0) < v.get("target", 0)}
        return errors.WarmUpTimeoutError(message, lagging=lag, **kw)
    return cls(message, **kw)


def agent_message(body: bytes) -> tuple[str, bool]:
    """The agent's error text, and whether the agent itself answered (its
    ``{"detail": …}``) rather than the platform in front of it."""
    try:
        doc = json.loads(body)
    except ValueError:
        return snippet(body), False
    if isinstance(doc, dict) and "detail" in doc:
        d = doc["detail"]
        if isinstance(d, str):
            return d, True
        if isinstance(d, list) and d and isinstance(d[0], dict):
            return f"{d[0].get('loc')}: {d[0].get('msg')}", True
        return str(d), True
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return doc["error"], False
    return snippet(body), False


def agent_error(status: int, body: bytes, sandbox_id: str) -> errors.AgentError:
    """The error of a non-2xx agent answer, as the Go client's AgentError
    unwraps it."""
    msg, from_agent = agent_message(body)
    said = f"sandbox agent: HTTP {status}: {msg}"
    E = errors
    if status == 403 and "Access denied" in msg:
        return E.PathNotAllowedError(f"path not allowed in the sandbox (use /workspace, /home/sandbox or /tmp) ({said})", status=status)
    if status in (401, 403):
        return E.AgentError(
            f"the sandbox's agent refused the agent token ({said}): use the agent_token that acquire returned",
            code="unauthorized", status=status)
    if status == 408:
        return E.ExecTimeoutError(f"the command timed out ({said})", status=status)
    if status == 404 and (msg.startswith("File not found") or msg.startswith("Path not found")):
        return E.FileNotFoundInSandboxError(f"file not found in the sandbox ({said})", status=status)
    if status == 404 and msg.startswith("Process ") and "not tracked" in msg:
        return E.ProcessNotFoundError(f"process not tracked by the sandbox's agent ({said})", status=status)
    if status == 404 and not from_agent:
        name = f"sandbox {sandbox_id}" if sandbox_id else "the sandbox"
        return E.SandboxGoneError(
            f"{name} is gone: it was released or its lease expired, and its agent no longer answers (HTTP {status}: {msg}); acquire another",
            status=status)
    if status == 400 and msg.startswith("Not a directory"):
        return E.NotADirectoryInSandboxError(f"not a directory in the sandbox ({said})", status=status)
    if status == 400 and msg.startswith("Path is a directory"):
        return E.IsADirectoryInSandboxError(f"is a directory in the sandbox ({said})", status=status)
    if status == 400 and msg.startswith("Failed to kill process"):
        return E.ProcessNotRunningError(f"the process could not be signalled ({said})", status=status)
    return E.AgentError(said, status=status)


# --- The API's operations ---------------------------------------------------


def _sandbox_from(doc: dict, replayed: bool) -> SandboxInfo:
    sb, lease = doc["sandbox"], doc["lease"]
    return SandboxInfo(
        id=sb["id"], image=sb["image"], app_id=sb.get("app_id", ""), url=sb.get("url", ""),
        region=sb.get("region", ""), instance_size=sb.get("instance_size", ""),
        source=doc.get("source", ""), lease_token=lease["token"], lease_expires_at=lease["expires_at"],
        agent_token=sb.get("agent_token", ""), replayed=replayed,
    )


class Acquire:
    """POST /acquire, following a cold start's 202 claim until its sandbox is
    ready. ``claim_id`` is set while a claim is followed, so a caller that
    gives up can cancel it (``cancel``)."""

    def __init__(self, image: str, lease: Optional[float], wait: Optional[float], key: Optional[str],
                 on_cold_start: Optional[Callable[[], None]], timeout: Optional[float]) -> None:
        if not image:
            raise errors.InvalidRequestError("acquire: an image is required")
        if wait is not None and wait > MAX_WAIT:
            raise errors.InvalidRequestError(f"acquire: wait must be at most {MAX_WAIT:g} s")
        self.image, self.on_cold_start = image, on_cold_start
        self.deadline = time.monotonic() + timeout if timeout else None
        self.req: Dict[str, Any] = {"image": image, "idempotency_key": key or new_key()}
        if lease:
            self.req["lease_seconds"] = seconds(lease)
        if wait:
            self.req["wait_seconds"] = seconds(wait)
        self.claim_id = ""

    def steps(self) -> Op:
        for poll in count(1):
            r = yield Call("POST", "/acquire", self.req, idempotent=True,
                           timeout=REQUEST_TIMEOUT + float(self.req.get("wait_seconds", 0)))
            doc = r.json()
            if r.status == 200 and doc.get("sandbox") and doc.get("lease"):
                self.claim_id = ""
                return _sandbox_from(doc, r.headers.get("idempotent-replay") == "true")
            claim = doc.get("claim") or {}
            if r.status != 202 or not claim.get("id"):
                raise errors.HotPoolError(f"acquire: unexpected answer (HTTP {r.status}): {snippet(r.body)}")
            if not self.claim_id and self.on_cold_start:
                self.on_cold_start()
            self.claim_id = claim["id"]
            self.req = {"claim_id": self.claim_id}
            wait = backoff(poll, float(claim.get("retry_after_seconds") or 0))
            if self.deadline is not None and time.monotonic() + wait > self.deadline:
                yield from self.cancel()
                raise errors.HotPoolError(
                    f"gave up waiting for a cold start of {self.image!r}: the claim is cancelled and its sandbox joins the pool when ready",
                    code="cold_start_timeout")
            yield Sleep(wait)
        return None  # unreachable: count() never ends

    def cancel(self) -> Op:
        """POST /acquire/cancel for the claim being followed (its sandbox then
        joins the pool)."""
        if not self.claim_id:
            return None
        claim, self.claim_id = self.claim_id, ""
        yield Call("POST", "/acquire/cancel", {"claim_id": claim}, idempotent=True, timeout=5.0)
        return None


def release(sandbox_id: str, lease_token: str) -> Op:
    r = yield Call("POST", "/release", {"sandbox_id": sandbox_id, "lease_token": lease_token}, idempotent=True)
    return r.json()


def renew(sandbox_id: str, lease_token: str, lease: Optional[float]) -> Op:
    body: Dict[str, Any] = {"sandbox_id": sandbox_id, "lease_token": lease_token}
    if lease:
        body["lease_seconds"] = seconds(lease)
    r = yield Call("POST", "/acquire/renew", body)
    return r.json()["lease"]["expires_at"]


def metrics() -> Op:
    r = yield Call("GET", "/metrics", idempotent=True)
    return Metrics.from_doc(r.json())


def metrics_prometheus() -> Op:
    r = yield Call("GET", "/metrics?format=prometheus", idempotent=True, accept="text/plain")
    return r.body.decode()


def reconcile() -> Op:
    r = yield Call("POST", "/reconcile", {"action": "pass"})
    return r.json()


def admin(action: str, pool: Optional[str]) -> Op:
    body = {"action": action}
    if pool:
        body["pool"] = pool
    r = yield Call("POST", "/reconcile", body, idempotent=True)
    return r.json()


def warm_up(timeout: float, interval: Optional[float], progress: Optional[Callable[[Dict[str, dict]], None]]) -> Op:
    """Long-polls the warm_up action until every pool is at its target, or
    raises WarmUpTimeoutError naming the pools that lag."""
    if not timeout or timeout <= 0:
        raise errors.InvalidRequestError("warm-up timeout must be > 0")
    interval = MAX_WAIT if not interval or interval > MAX_WAIT else interval
    deadline = time.monotonic() + timeout
    last: Dict[str, dict] = {}
    while True:
        wait = min(interval, deadline - time.monotonic())
        if wait < MIN_BACKOFF and last:
            break
        start = time.monotonic()
        st: Optional[WarmUpStatus] = None
        try:
            r = yield Call("POST", "/reconcile", {"action": "warm_up", "timeout_seconds": max(int(wait), 0)},
                           idempotent=True, timeout=REQUEST_TIMEOUT + wait)
            st = WarmUpStatus.from_doc(r.json())
        except errors.WarmUpTimeoutError as e:
            if isinstance(e.details, dict):
                st = WarmUpStatus.from_doc(e.details)
        if st is not None:
            last = st.pools
            if progress:
                progress(st.pools)
            if st.done:
                return st
        if time.monotonic() >= deadline:
            break
        rest = wait - (time.monotonic() - start)
        if rest > wait / 2:
            yield Sleep(min(rest, max(deadline - time.monotonic(), 0)))
    lag = {k: v for k, v in last.items() if v.get("ready", 0) < v.get("target", 0)}
    names = ", ".join(f"{k} {v.get('ready', 0)}/{v.get('target', 0)}" for k, v in sorted(lag.items()))
    raise errors.WarmUpTimeoutError(f"pools not at target after {timeout:g}s" + (f": {names}" if names else ""), lagging=lag)


# --- The sandbox agent's operations ------------------------------------------


def _exec_body(command: str, cwd: Optional[str], env: Optional[Mapping[str, str]], timeout: Optional[float]) -> dict:
    if not command or not command.strip():
        raise errors.InvalidRequestError("exec: empty command")
    if timeout is not None and timeout < 0:
        raise errors.InvalidRequestError("exec: timeout must be >= 0")
    body: Dict[str, Any] = {"command": command}
    if env:
        body["env"] = dict(env)
    if cwd:
        body["cwd"] = cwd
    if timeout:
        body["timeout"] = seconds(timeout)
    return body


def exec_call(sb: SandboxInfo, command: str, cwd: Optional[str], env: Optional[Mapping[str, str]],
              timeout: Optional[float], stream: bool) -> Call:
    body = _exec_body(command, cwd, env, timeout)
    limit = (timeout or AGENT_DEFAULT_TIMEOUT) + EXEC_GRACE
    if stream:
        return Call("POST", "/api/exec/stream", body, accept="text/event-stream", timeout=limit, agent=sb)
    return Call("POST", "/api/exec", body, timeout=limit, agent=sb)


def exec_(sb: SandboxInfo, command: str, cwd: Optional[str], env: Optional[Mapping[str, str]], timeout: Optional[float]) -> Op:
    r = yield exec_call(sb, command, cwd, env, timeout, stream=False)
    d = r.json()
    return ExecResult(stdout=d.get("stdout", ""), stderr=d.get("stderr", ""), exit_code=int(d.get("exit_code", 0)))


def write_file(sb: SandboxInfo, path: str, data: Union[str, bytes]) -> Op:
    if not path:
        raise errors.InvalidRequestError("write file: empty path")
    raw = data.encode() if isinstance(data, str) else bytes(data)
    yield Call("POST", "/api/files/content", {"path": path, "content": base64.b64encode(raw).decode(), "encoding": "base64"}, agent=sb)
    return None


def read_file(sb: SandboxInfo, path: str) -> Op:
    if not path:
        raise errors.InvalidRequestError("read file: empty path")
    r = yield Call("GET", "/api/files/download?path=" + quote(path, safe=""), accept="*/*", agent=sb)
    return r.body


def list_files(sb: SandboxInfo, path: Optional[str]) -> Op:
    route = "/api/files" + ("?path=" + quote(path, safe="") if path else "")
    r = yield Call("GET", route, agent=sb)
    return [FileInfo.from_doc(f) for f in r.json().get("files", [])]


def start_process(sb: SandboxInfo, command: str, cwd: Optional[str], env: Optional[Mapping[str, str]]) -> Op:
    if not command or not command.strip():
        raise errors.InvalidRequestError("start process: empty command")
    body: Dict[str, Any] = {"command": command}
    if cwd:
        body["cwd"] = cwd
    if env:
        body["env"] = dict(env)
    r = yield Call("POST", "/api/exec/background", body, agent=sb)
    d = r.json()
    return Process(pid=int(d["pid"]), command=command, status="running", log_file=d.get("log_file", ""), started_at=time.time())


def processes(sb: SandboxInfo) -> Op:
    r = yield Call("GET", "/api/processes", agent=sb)
    return [Process.from_doc(p) for p in r.json()]


def process(sb: SandboxInfo, pid: int) -> Op:
    r = yield Call("GET", f"/api/processes/{int(pid)}", agent=sb)
    return Process.from_doc(r.json())


def process_logs(sb: SandboxInfo, pid: int, tail: int) -> Op:
    if tail < 0:
        raise errors.InvalidRequestError("process logs: tail must be >= 0")
    r = yield Call("GET", f"/api/processes/{int(pid)}/logs" + (f"?tail={tail}" if tail else ""), agent=sb)
    return r.json().get("logs", "")


def kill_process(sb: SandboxInfo, pid: int, signal: int) -> Op:
    yield Call("POST", f"/api/processes/{int(pid)}/kill", {"signal": int(signal or 15)}, agent=sb)
    return None


def follow_call(sb: SandboxInfo, pid: int) -> Call:
    return Call("GET", f"/api/processes/{int(pid)}/logs/stream", accept="text/event-stream", timeout=0, agent=sb)


def port_url(sb: SandboxInfo, port: int, path: str = "/") -> str:
    return sb.url.rstrip("/") + f"/proxy/{int(port)}/" + path.lstrip("/")


class SSE:
    """Reads server-sent events line by line: ``feed`` a line, get an event
    (name, data) when a blank line ends one."""

    def __init__(self) -> None:
        self.name, self.data, self.seen = "", [], False

    def feed(self, line: str) -> Optional[tuple]:
        line = line.rstrip("\r\n")
        if line == "":
            if not self.seen:
                return None
            ev = (self.name, "\n".join(self.data))
            self.name, self.data, self.seen = "", [], False
            return ev
        if line.startswith(":"):
            return None
        if line.startswith("event:"):
            self.name, self.seen = line[6:].strip(), True
        elif line.startswith("data:"):
            self.data.append(line[5:][1:] if line[5:].startswith(" ") else line[5:])
            self.seen = True
        return None


def exec_event(name: str, data: str) -> Optional[ExecEvent]:
    """The ExecEvent of one stream event; an error event raises. None for an
    event this client does not know."""
    try:
        d = json.loads(data)
    except ValueError as e:
        raise errors.StreamIncompleteError(f"exec stream: undecodable {name} event ({e}): the output may be incomplete") from None
    if name in ("stdout", "stderr"):
        return ExecEvent(kind=name, line=d.get("line", ""), time=float(d.get("timestamp") or 0))
    if name == "exit":
        return ExecEvent(kind="exit", line="", time=float(d.get("timestamp") or 0),
                         exit_code=int(d.get("code") or 0), duration=float(d.get("duration_ms") or 0) / 1000)
    if name == "error":
        if d.get("code") == "TIMEOUT":
            raise errors.ExecTimeoutError(f"the command timed out: {d.get('message')} (the lines before it were the whole output)")
        raise errors.AgentError(str(d.get("message")))
    return None


def stream_cut(reason: str) -> errors.StreamIncompleteError:
    return errors.StreamIncompleteError(f"the stream was cut before its end ({reason}): the output may be incomplete")


# --- What both drivers share ---------------------------------------------------


def prepare(call: Call, base: str, token: str, rid: str) -> tuple:
    """The URL and headers of one try of ``call``."""
    headers = {"Accept": call.accept, "User-Agent": USER_AGENT}
    if call.agent is not None:
        sb = call.agent
        if not sb.url or not sb.agent_token:
            raise errors.InvalidRequestError(f"sandbox agent: sandbox {sb.id} has no agent URL or token (is it a service-mode image?)")
        headers["Authorization"] = "Bearer " + sb.agent_token
        return sb.url.rstrip("/") + call.path, headers
    headers["X-Request-Id"] = rid
    if token:
        headers["Authorization"] = "Bearer " + token
    return base + call.path, headers


def transport_error(call: Call, url: str, exc: BaseException) -> errors.HotPoolError:
    """A request that got no answer. The URL holds no secret; the message
    names the endpoint only."""
    where = url.split("?", 1)[0]
    if call.agent is not None:
        return errors.UnavailableError(f"sandbox agent {call.path.split('?', 1)[0]}: {type(exc).__name__}: {exc}")
    return errors.UnavailableError(f"{call.method} {where}: {type(exc).__name__}: {exc}")


def check(call: Call, status: int, headers: Mapping[str, str], body: bytes, url: str) -> Response:
    """A 2xx answer as a Response; any other as its error."""
    if 200 <= status <= 299:
        return Response(status, headers, body)
    if call.agent is not None:
        raise agent_error(status, body, call.agent.id)
    raise api_error(status, headers, body, f"{call.method} {url.split('?', 1)[0]}")


def drive(op: Op, send: Callable[[Call], Response], sleep: Callable[[float], None]) -> Any:
    """Runs an operation with a synchronous sender: each Call's Response (or
    its error, thrown into the operation) goes back in."""
    value: Any = None
    exc: Optional[BaseException] = None
    while True:
        try:
            step = op.throw(exc) if exc is not None else op.send(value)
        except StopIteration as stop:
            return stop.value
        value, exc = None, None
        if isinstance(step, Sleep):
            sleep(step.seconds)
            continue
        try:
            value = send(step)
        except errors.HotPoolError as e:
            exc = e
