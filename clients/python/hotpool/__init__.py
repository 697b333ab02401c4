"""hotpool: pre-warmed, single-use sandboxes on DigitalOcean App Platform.

- ``HotPool`` and ``AsyncHotPool``: the whole HTTP API and the sandbox
  (exec, streaming exec, files, background processes, ports), sync and async.
- ``SandboxManager`` and ``PoolConfig``: a drop-in for the do-app-sandbox
  SDK's manager over a shared hotpool deployment.
- The errors: one class per stable code (``PoolExhaustedError`` …).
"""

from ._models import ExecEvent, ExecResult, FileInfo, LogLine, Metrics, PoolMetrics, Process, WarmUpStatus
from .aio import AsyncHotPool, AsyncSandbox
from .client import HotPool, Sandbox
from .errors import (
    AgentError,
    ClaimNotFoundError,
    ExecTimeoutError,
    FileNotFoundInSandboxError,
    HotPoolError,
    InternalError,
    InvalidRequestError,
    IsADirectoryInSandboxError,
    LeaseExpiredError,
    LeaseMismatchError,
    NotADirectoryInSandboxError,
    NotFoundError,
    PathNotAllowedError,
    PoolExhaustedError,
    PoolShutdownError,
    ProcessNotFoundError,
    ProcessNotRunningError,
    SandboxCreationError,
    SandboxGoneError,
    SandboxNotFoundError,
    StateConflictError,
    StreamIncompleteError,
    TooManyPoolsError,
    UnauthorizedError,
    UnavailableError,
    UnknownImageError,
    WarmUpTimeoutError,
)
from .manager import PoolConfig, SandboxManager

__version__ = "0.1.0"

__all__ = [name for name in dir() if not name.startswith("_")]
