#!/usr/bin/env python3
"""tools/eval, step "query": send every planned clip to the daemon and record its answers.

POST /v1/match?top=1 with the clip's bytes as the body, over the daemon's Unix socket, from a
few concurrent clients (one keep-alive connection each). Latency is measured by the client,
from sending the request to having read the whole response. Writes one JSON object per clip:
{"clip", "status", "latency_s", "server_timing", "response"} (server_timing: the Server-Timing
header, if any; response: the parsed JSON body, or null) and, for transport failures or
unparsable bodies, "error".
"""

import argparse
import concurrent.futures
import csv
import http.client
import json
import os
import sys
import threading
import time

from unix_http import UnixHTTPConnection

MATCH_PATH = '/v1/match?top=1'
REQUEST_TIMEOUT_S = 120   # generous: a failing daemon should show up as errors, not a hung harness
PROGRESS_EVERY = 500      # queries between progress lines


class Client:
    """One connection per worker thread, reopened after any transport error."""

    def __init__(self, socket_path):
        self.socket_path, self.local = socket_path, threading.local()

    def post(self, body):
        reused = getattr(self.local, 'conn', None) is not None
        try:
            return self.exchange(body)
        except (OSError, http.client.HTTPException):
            if not reused:
                raise
        # A kept-alive connection may have been closed by the server while idle: retry once, fresh.
        return self.exchange(body)

    def exchange(self, body):
        conn = getattr(self.local, 'conn', None)
        if conn is None:
            conn = self.local.conn = UnixHTTPConnection(self.socket_path, REQUEST_TIMEOUT_S)
        started = time.perf_counter()
        try:
            conn.request('POST', MATCH_PATH, body=body,
                         headers={'Content-Type': 'application/octet-stream'})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            raise
        latency = time.perf_counter() - started
        if response.will_close:
            conn.close()
            self.local.conn = None
        return response.status, data, latency, response.getheader('Server-Timing')


def query(client, clip):
    with open(clip, 'rb') as f:
        body = f.read()
    try:
        status, data, latency, server_timing = client.post(body)
    except (OSError, http.client.HTTPException) as e:
        return dict(clip=clip, status=None, latency_s=None, response=None, error=f'{type(e).__name__}: {e}')
    answer = dict(clip=clip, status=status, latency_s=round(latency, 6), server_timing=server_timing, response=None)
    try:
        answer['response'] = json.loads(data)
    except ValueError:
        answer['error'] = f'unparsable response body: {data[:200]!r}'
    return answer


def main():
    parser = argparse.ArgumentParser(description='Query the daemon with every planned clip (part of tools/eval).')
    parser.add_argument('--plan', required=True)
    parser.add_argument('--socket', required=True)
    parser.add_argument('--answers', required=True, help='output JSON lines')
    parser.add_argument('--clients', type=int, required=True)
    args = parser.parse_args()

    with open(args.plan, newline='') as f:
        clips = [row['clip'] for row in csv.DictReader(f, delimiter='\t')]
    client = Client(args.socket)
    print(f'{len(clips)} queries, {args.clients} concurrent clients', flush=True)
    started, failures = time.monotonic(), 0
    with open(args.answers + '.tmp', 'w') as out, \
            concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
        try:
            # map() keeps the plan's order in the output; clients still run concurrently.
            for done, answer in enumerate(pool.map(lambda clip: query(client, clip), clips), 1):
                out.write(json.dumps(answer) + '\n')
                if answer['status'] != 200 or 'error' in answer:
                    failures += 1
                    if failures <= 5:
                        print(f'  query failed: {answer["clip"]}: status {answer["status"]}, '
                              f'{answer.get("error") or json.dumps(answer["response"])[:300]}',
                              file=sys.stderr, flush=True)
                if done % PROGRESS_EVERY == 0 or done == len(clips):
                    elapsed = time.monotonic() - started
                    print(f'  {done}/{len(clips)} queries, {done / elapsed:.1f}/s, {failures} failed',
                          flush=True)
        except KeyboardInterrupt:
            pool.shutdown(cancel_futures=True)
            sys.exit('eval: interrupted while querying')
    os.replace(args.answers + '.tmp', args.answers)


if __name__ == '__main__':
    main()
