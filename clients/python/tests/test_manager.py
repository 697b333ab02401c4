"""The drop-in SandboxManager against a hotpool deployment."""

from __future__ import annotations

import pytest

import hotpool
from hotpool import PoolConfig, SandboxManager


async def test_start_refuses_a_pool_the_server_does_not_serve(server):
    m = SandboxManager(pools={"ruby": PoolConfig(target_ready=1)})
    with pytest.raises(hotpool.UnknownImageError) as e:
        await m.start()
    assert "ruby" in str(e.value) and "python" in str(e.value), "it names what the server serves"
    await m.shutdown()


async def test_start_warns_where_the_servers_values_differ(server):
    m = SandboxManager(pools={"python": PoolConfig(target_ready=5)}, max_total_sandboxes=100)
    with pytest.warns(UserWarning, match="target_ready=5.*server's target_ready=3"):
        await m.start()
    await m.shutdown()


async def test_the_seeds_call_shapes(server):
    m = SandboxManager(pools={"python": PoolConfig(target_ready=3)})
    await m.start()
    await m.warm_up(timeout=60)
    sb = await m.acquire(image="python")
    r = sb.exec("python3 -c 'print(2+2)'", timeout=30)
    assert (r.stdout, r.exit_code) == ("4\n", 0)
    sb.filesystem.write_file("/tmp/user_code.py", "print('hi')")
    assert sb.exec("python3 /tmp/user_code.py").stdout == "hi\n"
    metrics = m.metrics()
    pm = metrics["python"]
    for f in ("ready", "creating", "in_use", "total_acquires", "acquires_from_pool", "acquires_cold_start",
              "pool_hit_rate", "avg_acquire_latency_ms"):
        assert hasattr(pm, f), f
    assert pm.in_use >= 1
    sb.delete()
    held = await m.acquire(image="python")
    before = m.metrics()["python"].in_use
    await m.shutdown()
    with pytest.raises(hotpool.PoolShutdownError):
        await m.acquire(image="python")
    with hotpool.HotPool() as hp:
        assert hp.metrics().pools["python"].in_use == before - 1, "shutdown released what it held"
        assert not hp.metrics().pools["python"].raw["shutdown"], "and never shut the shared pool down"
    assert held.id
