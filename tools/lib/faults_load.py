#!/usr/bin/env python3
"""Request load for the fault scripts: clients loop on the daemon's Unix socket and log every
request, one JSON object per line, so the script can line the answers up with the fault.

    faults_load.py --socket S --log FILE --clip A.wav [--clip B.wav ...] [--clients 4]
                   [--stop-file F] [--seconds N] [--health-share 0.2] [--timeout 30]

Each client opens a new connection per request and POSTs a clip to /v1/match (or, with the
health share's probability, GETs /v1/health) until the stop file exists or the time is up. Each
log line holds: start and end (Unix time), route, status (0: no answer, with the error),
error code, Retry-After, and for a match whether the top match is the clip's own track (a clip
named track-0003-10s.wav belongs to track-0003.*).
"""

import argparse
import http.client
import json
import os
import random
import threading
import time

from unix_http import UnixHTTPConnection


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--socket', required=True)
    parser.add_argument('--log', required=True)
    parser.add_argument('--clip', action='append', required=True)
    parser.add_argument('--clients', type=int, default=4)
    parser.add_argument('--stop-file')
    parser.add_argument('--seconds', type=float, default=3600)
    parser.add_argument('--health-share', type=float, default=0.0)
    parser.add_argument('--timeout', type=float, default=30)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()

    clips = []
    for path in args.clip:
        with open(path, 'rb') as f:
            clips.append((os.path.basename(path).rsplit('-', 1)[0], f.read()))
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    log = open(args.log, 'a', buffering=1)

    def stopped():
        return time.monotonic() >= deadline or (args.stop_file and os.path.exists(args.stop_file))

    def client(number):
        rng = random.Random(args.seed * 1000 + number)
        while not stopped():
            health = rng.random() < args.health_share
            track, body = (None, None) if health else rng.choice(clips)
            entry = {'client': number, 'route': '/v1/health' if health else '/v1/match', 'start': time.time()}
            try:
                connection = UnixHTTPConnection(args.socket, args.timeout)
                if health:
                    connection.request('GET', '/v1/health')
                else:
                    connection.request('POST', '/v1/match', body=body, headers={'Content-Type': 'application/octet-stream'})
                response = connection.getresponse()
                payload = response.read()
                entry['status'] = response.status
                entry['retry_after'] = response.getheader('Retry-After')
                try:
                    answer = json.loads(payload)
                except ValueError:
                    answer = {}
                if response.status != 200:
                    error = answer.get('error', {}) if isinstance(answer, dict) else {}
                    entry['code'] = error.get('code')
                    entry['message'] = error.get('message')
                elif not health:
                    matches = answer.get('matches') or []
                    top = os.path.basename(matches[0].get('source_path', '')) if matches else ''
                    entry['correct'] = top.startswith(track + '.')
                connection.close()
            except (OSError, http.client.HTTPException) as error:
                entry['status'] = 0
                entry['error'] = f'{type(error).__name__}: {error}'
            entry['end'] = time.time()
            with lock:
                log.write(json.dumps(entry) + '\n')
            if entry['status'] == 0:
                time.sleep(0.05)  # nothing listening: do not spin

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == '__main__':
    main()
