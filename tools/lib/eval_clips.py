#!/usr/bin/env python3
"""tools/eval, step "clips": plan the query excerpts and cut the missing ones with tools/degrade.

One excerpt per track, condition and length, at a random offset. Each excerpt's offset and noise
seed come from a PRNG seeded with (seed, track, length, condition), so selecting a subset of
conditions, lengths or tracks leaves the other excerpts unchanged and reusable. The offset and
seed are part of the clip's file name, so an existing file always is the excerpt it names.

Writes the plan as TSV (one row per clip) for the query and report steps.
"""

import argparse
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import time

DEGRADE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'degrade')
TRACK_FILE = re.compile(r'^track-(\d{4,5})\.(ogg|flac|mp3|wav)$')
# Excerpts stay clear of the last seconds: make-catalog fades every track out over 1.5 s.
END_MARGIN_S = 2.0
PLAN_COLUMNS = ('kind', 'source', 'clip', 'condition', 'length_s', 'start_s', 'noise_seed')
PROGRESS_EVERY = 250  # clips between progress lines


def duration_s(path):
    out = subprocess.run(['ffprobe', '-v', 'error', '-show_entries', 'format=duration', '-of', 'json', path],
                         capture_output=True, text=True)
    try:
        return float(json.loads(out.stdout)['format']['duration'])
    except (ValueError, KeyError):
        sys.exit(f'eval: cannot read the duration of {path}: {out.stderr.strip()}')


def tracks(directory, first, count):
    """The track files with indices first..first+count-1; all of them must exist."""
    found = {int(m[1]): name for name in os.listdir(directory) if (m := TRACK_FILE.match(name))}
    missing = [i for i in range(first, first + count) if i not in found]
    if missing:
        sys.exit(f'eval: {len(missing)} tracks missing from {directory} (first: index {missing[0]}); '
                 'did rendering fail?')
    return [os.path.join(directory, found[i]) for i in range(first, first + count)]


def plan(kind, sources, clips_dir, conditions, lengths, seed):
    rows = []
    for source in sources:
        name = os.path.splitext(os.path.basename(source))[0]
        total = duration_s(source)
        for length in lengths:
            if total < length + END_MARGIN_S:
                sys.exit(f'eval: {source} lasts {total:.1f} s, too short for {length} s excerpts')
            for condition in conditions:
                # A string seed is hashed with SHA-512 by Python: stable across runs and versions.
                rng = random.Random(f'{seed}/{name}/{length}/{condition}')
                start = round(rng.uniform(0, total - length - END_MARGIN_S), 3)
                noise_seed = rng.randrange(2 ** 31)
                clip = os.path.join(clips_dir, kind, name,
                                    f'{name}-{length:g}s-{condition}-at{start:.3f}-n{noise_seed}.wav')
                rows.append(dict(kind=kind, source=source, clip=clip, condition=condition,
                                 length_s=f'{length:g}', start_s=f'{start:.3f}', noise_seed=str(noise_seed)))
    return rows


def cut(row):
    os.makedirs(os.path.dirname(row['clip']), exist_ok=True)
    # degrade writes OUT only when done, so a killed run leaves no partial clip behind.
    proc = subprocess.run([sys.executable, DEGRADE, row['source'], row['clip'], row['condition'],
                           '--start', row['start_s'], '--length', row['length_s'], '--seed', row['noise_seed']],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError((proc.stderr or proc.stdout).strip()[-500:])


def main():
    parser = argparse.ArgumentParser(description='Plan and cut the evaluation clips (part of tools/eval).')
    parser.add_argument('--catalog', required=True, help='directory of ingested tracks')
    parser.add_argument('--held-out', required=True, help='directory of tracks that are never ingested')
    parser.add_argument('--tracks', type=int, required=True)
    parser.add_argument('--held-out-tracks', type=int, required=True)
    parser.add_argument('--held-out-first', type=int, required=True)
    parser.add_argument('--clips', required=True, help='output directory for clips')
    parser.add_argument('--plan', required=True, help='output TSV')
    parser.add_argument('--conditions', required=True, help='comma-separated')
    parser.add_argument('--lengths', required=True, help='comma-separated seconds')
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--jobs', type=int, required=True)
    args = parser.parse_args()

    conditions = args.conditions.split(',')
    lengths = [float(x) for x in args.lengths.split(',')]
    rows = plan('catalog', tracks(args.catalog, 0, args.tracks), args.clips, conditions, lengths, args.seed)
    rows += plan('held-out', tracks(args.held_out, args.held_out_first, args.held_out_tracks), args.clips,
                 conditions, lengths, args.seed)
    tmp = args.plan + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\t'.join(PLAN_COLUMNS) + '\n')
        for row in rows:
            f.write('\t'.join(row[c] for c in PLAN_COLUMNS) + '\n')
    os.replace(tmp, args.plan)

    todo = [row for row in rows if not os.path.exists(row['clip'])]
    print(f'{len(rows)} clips planned, {len(rows) - len(todo)} already cut, {len(todo)} to cut '
          f'({args.jobs} jobs)', flush=True)
    started, failed = time.monotonic(), 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        jobs = {pool.submit(cut, row): row for row in todo}
        try:
            for done, job in enumerate(concurrent.futures.as_completed(jobs), 1):
                try:
                    job.result()
                except Exception as e:
                    failed += 1
                    print(f'eval: degrade failed for {jobs[job]["clip"]}: {e}', file=sys.stderr, flush=True)
                if done % PROGRESS_EVERY == 0 or done == len(todo):
                    elapsed = time.monotonic() - started
                    print(f'  cut {done}/{len(todo)} clips, {elapsed:.0f} s, '
                          f'ETA {elapsed / done * (len(todo) - done):.0f} s', flush=True)
        except KeyboardInterrupt:  # otherwise the pool would go on to run every queued job
            pool.shutdown(cancel_futures=True)
            sys.exit('eval: interrupted; run again to resume (existing clips are kept)')
    if failed:
        sys.exit(f'eval: {failed} clips could not be cut')


if __name__ == '__main__':
    main()
