"""hotpool's errors: one class per stable code of the HTTP contract, and
one per error of the sandbox agent's contract, with the same names as the Go
client's sentinels (``ErrPoolExhausted`` is ``PoolExhaustedError``).

Every error carries the stable ``code``, the HTTP ``status``, the
``request_id`` the server logged it under, and ``retry_after`` (seconds, or
``None``)."""

from __future__ import annotations

from typing import Any, Optional


class HotPoolError(Exception):
    """Base of every hotpool error."""

    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: int = 0,
        request_id: str = "",
        retry_after: Optional[float] = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.details = details

    def __str__(self) -> str:
        s = f"hotpool: {self.code}: {self.message}"
        if self.retry_after and self.code != "pool_shutdown":
            s += f" (retry after {self.retry_after:g}s)"
        return s


class PoolExhaustedError(HotPoolError):
    """The pool is empty and its on_empty is "fail", or no capacity is left."""

    code = "pool_exhausted"


class TooManyPoolsError(PoolExhaustedError):
    """default_pool_config already serves max_dynamic_pools pools."""

    code = "too_many_pools"


class PoolShutdownError(HotPoolError):
    """The pool (or the whole manager) is shut down."""

    code = "pool_shutdown"


class WarmUpTimeoutError(HotPoolError):
    """The pools did not reach their targets in time; ``lagging`` names them."""

    code = "warm_up_timeout"

    def __init__(self, message: str, *, lagging: Optional[dict] = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.lagging = lagging or {}


class SandboxCreationError(HotPoolError):
    """A cold start failed create_retries times."""

    code = "sandbox_creation_failed"


class LeaseMismatchError(HotPoolError):
    code = "lease_mismatch"


class LeaseExpiredError(HotPoolError):
    code = "lease_expired"


class StateConflictError(HotPoolError):
    code = "state_conflict"


class SandboxNotFoundError(HotPoolError):
    code = "sandbox_not_found"


class ClaimNotFoundError(HotPoolError):
    code = "claim_not_found"


class UnknownImageError(HotPoolError):
    code = "unknown_image"


class UnauthorizedError(HotPoolError):
    code = "unauthorized"


class InvalidRequestError(HotPoolError):
    code = "invalid_request"


class NotFoundError(HotPoolError):
    code = "not_found"


class UnavailableError(HotPoolError):
    """The server, Redis or the platform could not be reached, or answered 503."""

    code = "unavailable"


class InternalError(HotPoolError):
    code = "internal"


# The sandbox agent's errors (docs/agent.md).


class AgentError(HotPoolError):
    """An error answer of a sandbox's agent."""

    code = "agent_error"


class ExecTimeoutError(AgentError):
    """The agent killed the command at its timeout."""

    code = "exec_timeout"


class FileNotFoundInSandboxError(AgentError, FileNotFoundError):
    code = "file_not_found"


class PathNotAllowedError(AgentError, PermissionError):
    """The path is outside /workspace, /home/sandbox and /tmp."""

    code = "path_not_allowed"


class NotADirectoryInSandboxError(AgentError, NotADirectoryError):
    code = "not_a_directory"


class IsADirectoryInSandboxError(AgentError, IsADirectoryError):
    code = "is_a_directory"


class ProcessNotFoundError(AgentError):
    """The agent did not start a process with that pid."""

    code = "process_not_found"


class ProcessNotRunningError(AgentError):
    """The process has exited, or the signal does not exist."""

    code = "process_not_running"


class SandboxGoneError(AgentError):
    """The sandbox was released, or its lease expired: acquire another."""

    code = "sandbox_gone"


class StreamIncompleteError(AgentError):
    """A stream was cut before its end: the output may be incomplete."""

    code = "stream_incomplete"


BY_CODE = {
    c.code: c
    for c in (
        PoolExhaustedError,
        TooManyPoolsError,
        PoolShutdownError,
        WarmUpTimeoutError,
        SandboxCreationError,
        LeaseMismatchError,
        LeaseExpiredError,
        StateConflictError,
        SandboxNotFoundError,
        ClaimNotFoundError,
        UnknownImageError,
        UnauthorizedError,
        InvalidRequestError,
        NotFoundError,
        UnavailableError,
        InternalError,
    )
}
BY_CODE["method_not_allowed"] = InvalidRequestError
