"""The seed's code interpreter over hotpool, with the native async client:
each turn takes a warm sandbox, writes the code, runs it with its output
streamed as it comes, and always gives the sandbox back.

    HOTPOOL_URL=http://127.0.0.1:8080 HOTPOOL_API_TOKEN=dev-token \\
        python3 examples/python/code_interpreter.py
"""

import asyncio
import sys

from hotpool import AsyncHotPool, ExecTimeoutError


async def execute(hp: AsyncHotPool, code: str, timeout: float = 30) -> dict:
    async with hp.sandbox("python") as sb:  # released on error and cancellation too
        await sb.write_file("/tmp/user_code.py", code)
        out, err, code_ = [], [], 0
        try:
            async for ev in sb.exec_stream("python3 /tmp/user_code.py", timeout=timeout):
                if ev.kind == "stdout":
                    out.append(ev.line)
                    print("  |", ev.line, flush=True)
                elif ev.kind == "stderr":
                    err.append(ev.line)
                else:
                    code_ = ev.exit_code
        except ExecTimeoutError:
            return {"success": False, "output": "\n".join(out), "error": f"no output for {timeout:g} s: killed"}
        return {"success": code_ == 0, "output": "\n".join(out), "error": "\n".join(err) if code_ else None}


async def main() -> None:
    async with AsyncHotPool() as hp:
        await hp.warm_up(120)
        for code in ["print('Hello from sandbox!')", "import time\nfor i in range(3):\n    print(i); time.sleep(0.5)", "1/0"]:
            result = await execute(hp, code)
            print(result)
            if code == "1/0" and result["success"]:
                sys.exit("a failing program must not succeed")


if __name__ == "__main__":
    asyncio.run(main())
