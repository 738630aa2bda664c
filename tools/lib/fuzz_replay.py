#!/usr/bin/env python3
"""Replays saved request bodies (for example the failing inputs of tools/fuzz/decode/run) against a
running daemon's audio routes, one request per body and route, and says what each did to it
(tools/fuzz/api --replay DIR).

    fuzz_replay.py --bin TRACEMARK --home DATA_DIR --log FILE DIR

Starts `tracemark serve` on DATA_DIR, sends every file in DIR to POST /v1/match,
/v1/verify?use=stream&territory=SE, /v1/watermarks, /v1/watermarks/detect and
/v1/remix?territory=SE, and after each request checks that the daemon is still running. A 5xx,
a request without an answer or a daemon that died is a failure; a daemon that died is started
again before the next request. Prints one line per body and route, then a summary; exits 1 on
any failure.
"""

import argparse
import http.client
import os
import subprocess
import sys
import time

from unix_http import UnixHTTPConnection

ROUTES = ['/v1/match', '/v1/verify?use=stream&territory=SE', '/v1/watermarks', '/v1/watermarks/detect',
          '/v1/remix?territory=SE']


def request(socket_path, method, target, body=None):
    connection = UnixHTTPConnection(socket_path)
    try:
        connection.request(method, target, body=body,
                           headers={'Content-Type': 'application/octet-stream'} if body is not None else {})
        response = connection.getresponse()
        data = response.read()
        return response.status, data
    finally:
        connection.close()


class Daemon:
    def __init__(self, binary, home, log):
        self.binary, self.home, self.log = binary, home, log
        self.socket = os.path.join(home, 'run', 'tracemark.sock')
        self.process = None

    def start(self):
        log = open(self.log, 'a')
        self.process = subprocess.Popen([self.binary, 'serve', '--data-dir', self.home, '--log-level', 'warning'],
                                        stdout=log, stderr=log)
        for _ in range(600):
            if self.process.poll() is not None:
                sys.exit(f'fuzz_replay: the daemon exited at start (log: {self.log})')
            try:
                if request(self.socket, 'GET', '/v1/health')[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f'fuzz_replay: the daemon did not answer on {self.socket}')

    def alive(self):
        time.sleep(0.2)  # a crash is not always instantaneous after the answer (or its absence)
        return self.process.poll() is None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bin', required=True)
    parser.add_argument('--home', required=True)
    parser.add_argument('--log', required=True)
    parser.add_argument('directory')
    args = parser.parse_args()

    files = sorted(f for f in os.listdir(args.directory) if os.path.isfile(os.path.join(args.directory, f)))
    if not files:
        sys.exit(f'fuzz_replay: no files in {args.directory}')
    daemon = Daemon(args.bin, args.home, args.log)
    daemon.start()
    failures = []
    try:
        for name in files:
            with open(os.path.join(args.directory, name), 'rb') as f:
                body = f.read()
            for route in ROUTES:
                try:
                    status, data = request(daemon.socket, 'POST', route, body)
                    answer = str(status)
                    if status == 400 or status >= 500:
                        code = data[:200].decode(errors='replace')
                        answer += ' ' + (code.split('"code":"')[1].split('"')[0] if '"code":"' in code else '')
                except (OSError, http.client.HTTPException) as error:
                    status, answer = None, f'no answer ({type(error).__name__})'
                died = not daemon.alive()
                if died:
                    answer += f'; the daemon died (exit status {daemon.process.returncode})'
                print(f'{name} ({len(body)} bytes)\tPOST {route}\t{answer}', flush=True)
                if died or status is None or status >= 500:
                    failures.append(f'{name} POST {route}: {answer}')
                if died:
                    daemon.start()
    finally:
        daemon.stop()
    print(f'\n{len(files)} bodies x {len(ROUTES)} routes; failures: {len(failures) or "none"}')
    for failure in failures:
        print(f'- {failure}')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
