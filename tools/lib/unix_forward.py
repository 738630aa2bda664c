#!/usr/bin/env python3
"""Forwards TCP connections on 127.0.0.1 to a Unix socket, byte for byte, for HTTP clients that
cannot speak over a Unix socket (tools/fuzz/api).

    unix_forward.py SOCKET [--port P]

Prints the port it listens on (P, or one the system picks) on its first line, then serves until
killed. Each TCP connection gets its own connection to SOCKET; either side closing closes both.
"""

import argparse
import asyncio
import sys


async def pipe(reader, writer):
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
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('socket')
    parser.add_argument('--port', type=int, default=0)
    args = parser.parse_args()

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_unix_connection(args.socket)
        except OSError as error:
            print(f'unix_forward: cannot connect to {args.socket}: {error}', file=sys.stderr, flush=True)
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, '127.0.0.1', args.port)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
