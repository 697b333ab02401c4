"""The async client: the same API, awaited, against the same server."""

from __future__ import annotations

import asyncio
import time

import pytest

import hotpool
from hotpool import AsyncHotPool


async def test_async_sandbox_round_trip(server):
    async with AsyncHotPool() as hp:
        async with hp.sandbox("python") as sb:
            r = await sb.exec("echo $((6*7))")
            assert r.stdout == "42\n"
            await sb.write_file("/workspace/a.txt", "text")
            assert await sb.read_text("/workspace/a.txt") == "text"
            assert [f.name for f in await sb.list_files()] == ["a.txt"]
            lines = [ev.line async for ev in sb.exec_stream("echo 1; sleep 0.2; echo 2") if ev.kind == "stdout"]
            assert lines == ["1", "2"]
            p = await sb.start_process("echo started; sleep 30")
            assert (await sb.process(p.pid)).status == "running"
            await sb.kill_process(p.pid, 9)
            with pytest.raises(hotpool.PathNotAllowedError):
                await sb.read_file("/etc/hosts")
        m = await hp.metrics()
        assert m.pools["python"].target_ready == 3
        st = await hp.warm_up(30)
        assert st.done


async def test_a_cancelled_task_releases_its_sandbox(server):
    async with AsyncHotPool() as hp:
        before = (await hp.metrics()).pools["python"].in_use
        entered = asyncio.Event()

        async def work():
            async with hp.sandbox("python") as sb:
                entered.set()
                await sb.exec("sleep 30")

        task = asyncio.create_task(work())
        await entered.wait()
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 10
        while (await hp.metrics()).pools["python"].in_use > before:
            assert time.monotonic() < deadline, "the cancelled task's sandbox was released"
            await asyncio.sleep(0.05)


async def test_async_errors_are_the_same_classes(server):
    async with AsyncHotPool() as hp:
        with pytest.raises(hotpool.UnknownImageError):
            await hp.acquire("ruby")
        with pytest.raises(hotpool.HotPoolError) as e:
            await hp.acquire("cold", timeout=0.05)
        assert e.value.code == "cold_start_timeout"
