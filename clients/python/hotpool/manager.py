"""A drop-in for the do-app-sandbox SDK's ``SandboxManager`` over a shared
hotpool deployment: change the import line, set ``HOTPOOL_URL`` and
``HOTPOOL_API_TOKEN``, and the seed's examples run.

Where a shared backend must differ from an in-process pool:

- The pool configuration belongs to the server (its config file or
  ``HOTPOOL_CONFIG``). The constructor takes every parameter the seed's takes;
  ``start()`` checks that the server serves each pool named in ``pools`` and
  raises ``UnknownImageError`` when it does not, and warns (naming the
  server's value) where a ``target_ready``, ``max_ready`` or
  ``max_total_sandboxes`` given here differs from the server's. The other
  parameters are the server's to set and are not checked.
- ``sandbox.delete()`` releases the sandbox through hotpool, which destroys
  it, as the seed does.
- ``shutdown()`` releases the sandboxes this manager still holds and closes
  its connections. It never shuts the shared pools down: that is an admin
  call (``HotPool.shutdown``).
- ``metrics()`` returns ``{image: PoolMetrics}`` with the seed's eight
  fields, for every pool the server reports.
- ``sandbox.exec`` and ``sandbox.filesystem`` are synchronous, as the seed's
  are: they block the event loop while the command runs. Use
  ``AsyncHotPool`` for awaited calls.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from . import errors
from ._models import PoolMetrics
from .aio import AsyncHotPool
from .client import HotPool, Sandbox


@dataclass
class PoolConfig:
    """The seed's PoolConfig, with its defaults. The server's config is the
    one that applies; ``SandboxManager.start`` compares what it can."""

    target_ready: int = 0
    max_ready: int = 10
    idle_timeout: float = 60
    scale_down_delay: float = 60
    cooldown_after_acquire: float = 120
    max_warm_age: float = 1800
    health_check_interval: float = 60
    on_empty: str = "create"
    create_retries: int = 3


class _ManagedSandbox(Sandbox):
    """A sandbox the manager tracks until it is deleted."""

    def __init__(self, manager: "SandboxManager", sb: Sandbox) -> None:
        super().__init__(sb._t, sb.info)
        self._manager = manager

    def delete(self) -> None:
        try:
            super().delete()
        finally:
            self._manager._held.pop(self.id, None)


class SandboxManager:
    """The seed's SandboxManager over a hotpool deployment (see the module's
    doc for where it differs). ``url`` and ``token`` default to
    ``HOTPOOL_URL`` and ``HOTPOOL_API_TOKEN``."""

    def __init__(
        self,
        pools: Optional[Mapping[str, PoolConfig]] = None,
        default_pool_config: Optional[PoolConfig] = None,
        max_total_sandboxes: Optional[int] = None,
        max_concurrent_creates: int = 10,
        sandbox_defaults: Optional[Mapping[str, Any]] = None,
        *,
        url: Optional[str] = None,
        token: Optional[str] = None,
        lease: Optional[float] = None,
    ) -> None:
        self.pools = dict(pools or {})
        self.default_pool_config = default_pool_config
        self.max_total_sandboxes = max_total_sandboxes
        self.max_concurrent_creates = max_concurrent_creates
        self.sandbox_defaults = dict(sandbox_defaults or {})
        self._lease = lease
        self._sync = HotPool(url, token)
        self._async = AsyncHotPool(url, token)
        self._held: Dict[str, _ManagedSandbox] = {}
        self._shut = False

    async def start(self) -> None:
        """Checks the server serves this manager's pools (``UnknownImageError``
        when one is missing) and warns where a value given here differs from
        the server's. It creates nothing: the server keeps the pools warm."""
        self._check_open()
        m = await self._async.metrics()
        missing = sorted(set(self.pools) - set(m.pools))
        if missing:
            served = ", ".join(sorted(m.pools)) or "none"
            raise errors.UnknownImageError(
                f"the hotpool server at {self._sync._t.base} does not serve the pool(s) {', '.join(missing)} "
                f"(it serves: {served}); add them to the server's config under pools, "
                "or name only pools it serves")
        for name, pc in self.pools.items():
            srv = m.pools[name]
            for field, mine, theirs in (("target_ready", pc.target_ready, srv.target_ready), ("max_ready", pc.max_ready, srv.max_ready)):
                if mine != theirs:
                    warnings.warn(f"hotpool: pool {name!r}: PoolConfig({field}={mine}) differs from the server's {field}={theirs}; "
                                  "the server's applies (its config is shared by every caller)", stacklevel=2)
        if self.max_total_sandboxes is not None and self.max_total_sandboxes != m.max_total_sandboxes:
            warnings.warn(f"hotpool: max_total_sandboxes={self.max_total_sandboxes} differs from the server's "
                          f"{m.max_total_sandboxes}; the server's applies", stacklevel=2)

    async def acquire(self, image: Optional[str] = None) -> Sandbox:
        """Leases a sandbox of ``image``: a warm one in milliseconds, or a cold
        start when the pool is empty and its on_empty is "create"."""
        self._check_open()
        if not image:
            raise errors.InvalidRequestError("acquire: name the image, e.g. acquire(image=\"python\")")
        sb = await self._async.acquire(image, lease=self._lease)
        managed = _ManagedSandbox(self, Sandbox(self._sync._t, sb.info))
        self._held[managed.id] = managed
        return managed

    async def warm_up(self, timeout: float = 60) -> None:
        """Waits until every pool has target_ready ready sandboxes;
        ``WarmUpTimeoutError`` names the pools that lag."""
        self._check_open()
        await self._async.warm_up(timeout)

    def metrics(self) -> Dict[str, PoolMetrics]:
        """``{image: PoolMetrics}``: ready, creating, in_use, total_acquires,
        acquires_from_pool, acquires_cold_start, pool_hit_rate and
        avg_acquire_latency_ms, as the server counts them for every caller."""
        self._check_open()
        return dict(self._sync.metrics().pools)

    async def shutdown(self) -> None:
        """Releases the sandboxes this manager still holds and closes its
        connections; the shared pools keep running. Acquire then raises
        ``PoolShutdownError``."""
        if self._shut:
            return
        self._shut = True
        for sb in list(self._held.values()):
            try:
                await self._async.release(sb.id, sb.info.lease_token)
            except (errors.LeaseExpiredError, errors.SandboxNotFoundError):
                pass
            self._held.pop(sb.id, None)
        self._sync.close()
        await self._async.aclose()

    def _check_open(self) -> None:
        if self._shut:
            raise errors.PoolShutdownError("this SandboxManager was shut down")
