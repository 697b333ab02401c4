"""The values the clients return."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional


def parse_time(s: Any) -> Optional[datetime]:
    """An RFC 3339 timestamp of the API (fromisoformat before Python 3.11
    reads neither "Z" nor nanoseconds)."""
    if not s or not isinstance(s, str):
        return None
    s = s.replace("Z", "+00:00")
    s = re.sub(r"(\.\d{6})\d+", r"\1", s)
    return datetime.fromisoformat(s)


@dataclass
class Sandbox:
    """A leased sandbox's facts. The tokens are kept out of repr."""

    id: str
    image: str
    app_id: str
    url: str
    region: str
    instance_size: str
    source: str  # "pool" (warm) or "cold"
    lease_token: str = field(repr=False)
    lease_expires_at: Any = None
    agent_token: str = field(default="", repr=False)
    replayed: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.lease_expires_at, str):
            self.lease_expires_at = parse_time(self.lease_expires_at)


@dataclass
class ExecResult:
    """A finished command: a non-zero exit code is a result, not an error."""

    stdout: str
    stderr: str
    exit_code: int


@dataclass
class ExecEvent:
    """One event of a streamed command: a line of ``stdout`` or ``stderr``
    (without its newline), or the ``exit``."""

    kind: str
    line: str
    time: float  # unix seconds, when the agent read it
    exit_code: int = 0
    duration: float = 0.0  # seconds, on the exit event


@dataclass
class Process:
    """A background process of the sandbox's agent."""

    pid: int
    command: str
    status: str  # "running" or "stopped"
    log_file: str
    started_at: float

    @classmethod
    def from_doc(cls, d: Dict[str, Any]) -> "Process":
        return cls(pid=int(d["pid"]), command=d.get("command", ""), status=d.get("status", ""),
                   log_file=d.get("log_file", ""), started_at=float(d.get("started_at") or 0))


@dataclass
class FileInfo:
    name: str
    path: str
    is_dir: bool
    size: int  # 0 for a directory
    permissions: str  # "644"

    @classmethod
    def from_doc(cls, d: Dict[str, Any]) -> "FileInfo":
        return cls(name=d["name"], path=d.get("path", ""), is_dir=bool(d.get("is_dir")),
                   size=int(d.get("size") or 0), permissions=d.get("permissions", ""))


@dataclass
class PoolMetrics:
    """The seed SandboxManager's eight metrics of one pool, and the rest of
    what the server reports in ``raw``."""

    ready: int
    creating: int
    in_use: int
    total_acquires: int
    acquires_from_pool: int
    acquires_cold_start: int
    pool_hit_rate: float
    avg_acquire_latency_ms: float
    target_ready: int = 0
    max_ready: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_doc(cls, d: Dict[str, Any]) -> "PoolMetrics":
        return cls(
            ready=int(d.get("ready", 0)), creating=int(d.get("creating", 0)), in_use=int(d.get("in_use", 0)),
            total_acquires=int(d.get("total_acquires", 0)), acquires_from_pool=int(d.get("acquires_from_pool", 0)),
            acquires_cold_start=int(d.get("acquires_cold_start", 0)), pool_hit_rate=float(d.get("pool_hit_rate", 0)),
            avg_acquire_latency_ms=float(d.get("avg_acquire_latency_ms", 0)),
            target_ready=int(d.get("target_ready", 0)), max_ready=int(d.get("max_ready", 0)), raw=d,
        )


@dataclass
class Metrics:
    pools: Dict[str, PoolMetrics]
    total_sandboxes: int
    max_total_sandboxes: Optional[int]
    manager_shutdown: bool
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_doc(cls, d: Dict[str, Any]) -> "Metrics":
        return cls(
            pools={k: PoolMetrics.from_doc(v) for k, v in (d.get("pools") or {}).items()},
            total_sandboxes=int(d.get("total_sandboxes", 0)), max_total_sandboxes=d.get("max_total_sandboxes"),
            manager_shutdown=bool(d.get("manager_shutdown")), raw=d,
        )


@dataclass
class WarmUpStatus:
    done: bool
    pools: Dict[str, Dict[str, int]]  # image -> {"ready", "target"}

    @classmethod
    def from_doc(cls, d: Dict[str, Any]) -> "WarmUpStatus":
        return cls(done=bool(d.get("done")), pools=dict(d.get("pools") or {}))


@dataclass
class LogLine:
    """One line of a followed process log."""

    line: str
    time: float  # unix seconds
