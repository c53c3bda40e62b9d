#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# asyncio_echo.py PATH: the Python 3 asyncio peer for the echo benchmarks.
# Plain start_unix_server, read up to 64 KiB, write, drain; drain is the backpressure.
import asyncio
import os
import signal
import sys


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = await asyncio.start_unix_server(echo, path=path)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with server:
        await stop
    # The socket file is left behind on exit (Python < 3.13 does not remove it);
    # the next start unlinks it.


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: asyncio_echo.py PATH")
    asyncio.run(main(sys.argv[1]))
