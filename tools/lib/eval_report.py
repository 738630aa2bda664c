#!/usr/bin/env python3
"""tools/eval, step "report": score the daemon's answers and write the markdown report.

Scoring, per clip of the plan:
  right         the top-1 match's source_path has the clip's source track's file name
  offset right  right, and offset_s (where the query starts, in master time) within
                OFFSET_TOLERANCE_S times the condition's tempo factor of the excerpt's start in the
                master (tools/degrade cuts the excerpt first, then changes it)
  factor right  right, and tempo_factor and pitch_factor each within 0.5 % of the condition's
  false positive  any match for a clip of a held-out track (never ingested)
  error         no answer, an HTTP status other than 200, or a body that is not the expected JSON
Errors count against accuracy (a clip with an error is not right) and are reported apart.
"""

import argparse
import collections
import csv
import json
import math
import os
import re
import subprocess
import sys
import time

OFFSET_TOLERANCE_S = 0.5
TRACK_FILE = re.compile(r'^track-(\d{4,5})\.(ogg|flac|mp3|wav)$')
# Playback-rate change applied by tools/degrade; everything else keeps the time axis.
SPEED_FACTOR = {'speed+3': 1.03, 'speed-3': 0.97, 'tempo+5': 1.05, 'tempo-5': 0.95}
# (tempo, pitch) of each condition's clip relative to the master.
FACTORS = {'speed+3': (1.03, 1.03), 'speed-3': (0.97, 0.97), 'tempo+5': (1.05, 1.0), 'tempo-5': (0.95, 1.0),
           'pitch+1': (1.0, 2 ** (1 / 12)), 'pitch-1': (1.0, 2 ** (-1 / 12))}
FACTOR_TOLERANCE = 0.005
CONDITION_ORDER = ('clean', 'noise0', 'mp3-64', 'speed+3', 'speed-3', 'tempo+5', 'tempo-5',
                   'pitch+1', 'pitch-1', 'telephone', 'reverb')
# What each condition does; the same wording as tools/degrade --help.
CONDITION_TEXT = {
    'clean': 'the excerpt unchanged',
    'noise0': 'white noise at 0 dB SNR (noise RMS = excerpt RMS)',
    'mp3-64': 'encoded to MP3 at 64 kbit/s and decoded back',
    'speed+3': 'played 3 % faster: tempo and pitch up (sox speed 1.03)',
    'speed-3': 'played 3 % slower: tempo and pitch down (sox speed 0.97)',
    'tempo+5': 'tempo +5 %, pitch kept (sox tempo 1.05)',
    'tempo-5': 'tempo -5 %, pitch kept (sox tempo 0.95)',
    'pitch+1': 'pitch up one semitone, tempo kept (sox pitch 100)',
    'pitch-1': 'pitch down one semitone, tempo kept (sox pitch -100)',
    'telephone': 'band-pass 300-3400 Hz, 8 kHz mono',
    'reverb': 'room reverb mixed with the dry signal (sox reverb 50)',
}


def percent(part, whole):
    """'NN % (part/whole)'; never rounds a partial result to 0 % or 100 %."""
    if not whole:
        return 'n/a (0/0)'
    value = round(100 * part / whole)
    if part < whole:
        value = min(value, 99)
    if part > 0:
        value = max(value, 1)
    return f'{value} % ({part}/{whole})'


def quantile(values, q):
    """Nearest-rank quantile (no interpolation: p99 is a latency some query really had)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float('nan')


def top_match(answer):
    """(top-1 match or None, error text or None) for one recorded answer."""
    if answer is None:
        return None, 'not queried'
    if answer.get('error'):
        return None, answer['error']
    response = answer.get('response')
    if answer.get('status') != 200:
        error = response.get('error') if isinstance(response, dict) else None
        if not isinstance(error, dict):
            error = {}
        return None, f'HTTP {answer.get("status")} {error.get("code", "?")}: {error.get("message", "")}'
    if not isinstance(response, dict) or not isinstance(response.get('matches'), list):
        return None, 'response without a "matches" list'
    matches = response['matches']
    if matches and not (isinstance(matches[0], dict) and 'source_path' in matches[0]
                        and isinstance(matches[0].get('offset_s'), (int, float))):
        return None, 'match without source_path or offset_s'
    return (matches[0] if matches else None), None


def server_seconds(header):
    """Sum of the durations in a Server-Timing header ("decode;dur=1.2, lookup;dur=3.4"), in seconds."""
    if not header:
        return None
    durations = re.findall(r'dur=([0-9.]+)', header)
    return sum(map(float, durations)) / 1000 if durations else None


def score(plan, answers):
    """Counters keyed by (condition, length) plus latencies and errors."""
    s = dict(total=collections.Counter(), right=collections.Counter(), offset=collections.Counter(),
             factor=collections.Counter(), none=collections.Counter(), wrong=collections.Counter(),
             fp=collections.Counter(), scores=collections.defaultdict(list),
             held=collections.Counter(), errors=collections.Counter(), error_examples={},
             latency=collections.defaultdict(list), server=collections.defaultdict(list))
    for row in plan:
        key = (row['condition'], row['length_s'])
        answer = answers.get(row['clip'])
        if answer and answer.get('latency_s') is not None:
            s['latency'][row['length_s']].append(answer['latency_s'])
        if answer and (server := server_seconds(answer.get('server_timing'))) is not None:
            s['server'][row['length_s']].append(server)
        match, error = top_match(answer)
        if error:
            kind = error.split(':')[0]
            s['errors'][kind] += 1
            s['error_examples'].setdefault(kind, f'{os.path.basename(row["clip"])}: {error}'[:300])
        if match is not None:
            outcome = ('false positive (held-out)' if row['kind'] == 'held-out' else
                       'right (catalog)' if os.path.basename(match['source_path']) == os.path.basename(row['source'])
                       else 'wrong track (catalog)')
            s['scores'][outcome].append((match.get('score'), match.get('confidence')))
        if row['kind'] == 'held-out':
            s['held'][key] += 1
            s['fp'][key] += match is not None
            continue
        s['total'][key] += 1
        if error:
            continue
        if match is None:
            s['none'][key] += 1
        elif os.path.basename(match['source_path']) == os.path.basename(row['source']):
            s['right'][key] += 1
            tempo, pitch = FACTORS.get(row['condition'], (1.0, 1.0))
            s['offset'][key] += abs(match['offset_s'] - float(row['start_s'])) <= OFFSET_TOLERANCE_S * tempo
            if 'tempo_factor' in match:
                s['factor'][key] += (abs(match['tempo_factor'] / tempo - 1) <= FACTOR_TOLERANCE
                                     and abs(match['pitch_factor'] / pitch - 1) <= FACTOR_TOLERANCE)
        else:
            s['wrong'][key] += 1
    return s


def ordered(conditions):
    return sorted(conditions, key=lambda c: (CONDITION_ORDER.index(c) if c in CONDITION_ORDER else 99, c))


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    return lines + ['| ' + ' | '.join(map(str, r)) + ' |' for r in rows]


def report(plan, answers, info):
    s = score(plan, answers)
    health = info.get('health') or {}
    conditions = ordered({r['condition'] for r in plan})
    lengths = sorted({r['length_s'] for r in plan}, key=float)
    heads = [f'{l} s' for l in lengths]

    def grid(counter, denominator):
        rows = [[c] + [percent(counter[(c, l)], denominator[(c, l)]) for l in lengths] for c in conditions]
        rows.append(['**all**'] + [percent(sum(counter[(c, l)] for c in conditions),
                                           sum(denominator[(c, l)] for c in conditions)) for l in lengths])
        return table(['condition'] + heads, rows)

    accuracy = grid(s['right'], s['total'])
    offsets = grid(s['offset'], s['total'])
    factors = grid(s['factor'], s['total'])

    def spread(values, digits):
        values = [v for v in values if isinstance(v, (int, float))]
        return ' / '.join(f'{quantile(values, q):.{digits}f}' for q in (0, .5, .99, 1)) if values else 'n/a'

    scores = table(['top match', 'count', 'score: min / p50 / p99 / max', 'confidence: min / p50 / p99 / max'],
                   [[k, len(v), spread([x for x, _ in v], 0), spread([y for _, y in v], 3)]
                    for k in ('right (catalog)', 'wrong track (catalog)', 'false positive (held-out)')
                    if (v := s['scores'][k])])
    misses = table(['condition'] + [f'{h}: {w}' for h in heads for w in ('no match', 'wrong track')],
                   [[c] + [s[w][(c, l)] for l in lengths for w in ('none', 'wrong')] for c in conditions])
    fp_total, held_total = sum(s['fp'].values()), sum(s['held'].values())
    fp_rows = [[c] + [f'{s["fp"][(c, l)]} of {s["held"][(c, l)]}' for l in lengths]
               + [f'{sum(s["fp"][(c, l)] for l in lengths)} of {sum(s["held"][(c, l)] for l in lengths)}']
               for c in conditions]
    fp_rows.append(['**all**'] + [f'{sum(s["fp"][(c, l)] for c in conditions)} of '
                                  f'{sum(s["held"][(c, l)] for c in conditions)}' for l in lengths]
                   + [f'{fp_total} of {held_total}'])
    fps = table(['condition'] + heads + ['total'], fp_rows)

    def latency_rows(samples, label):
        every = [x for l in lengths for x in samples[l]]
        rows = [[f'{label}, {l} s clips', len(samples[l]), f'{1000 * quantile(samples[l], .5):.1f} ms',
                 f'{1000 * quantile(samples[l], .99):.1f} ms'] for l in lengths]
        return rows + [[f'**{label}, all**', len(every), f'{1000 * quantile(every, .5):.1f} ms',
                        f'{1000 * quantile(every, .99):.1f} ms']]

    all_latency = [x for l in lengths for x in s['latency'][l]]
    lat_rows = latency_rows(s['latency'], 'client')
    if any(s['server'].values()):
        lat_rows += latency_rows(s['server'], 'server')
    latency = table(['measured by', 'queries', 'p50', 'p99'], lat_rows)
    n_errors = sum(s['errors'].values())
    catalog_queries = sum(s['total'].values())

    md = [
        '# Tracemark evaluation',
        '',
        f'Produced by `{info["command"]}` on {info["date"]} (repository at {info["commit"]}, '
        f'{info["machine"]}). Regenerate it with the same command; everything it renders or cuts is '
        'kept under `var/eval/` and reused.',
        '',
        '## Setup',
        '',
        *table(['item', 'value'], [
            ['catalog (ingested)', f'{info["catalog_tracks"]} tracks, {info["catalog_hours"]:.2f} h of '
                                   f'rendered General MIDI music (`tools/make-catalog --seed {info["seed"]} '
                                   f'--duration-s {info["duration_s"]:g} --format ogg`)'],
            *([['distractors (ingested, never queried)',
                f'{info["distractors"]} more tracks of {info["distractor_duration_s"]:g} s '
                f'({info["distractors"] * info["distractor_duration_s"] / 3600:.2f} h), indices from 20000, same generator']]
              if info["distractors"] else []),
            ['held out (never ingested)', f'{info["held_out"]} tracks, indices {info["held_out_first"]}-'
                                          f'{info["held_out_first"] + info["held_out"] - 1}, same generator'],
            ['queries', f'{catalog_queries} clips of catalog tracks (queried tracks: {info["tracks"]}) and '
                        f'{held_total} of held-out tracks: one per track, condition and length, each at its own '
                        f'random offset (seed {info["seed"]}), cut and degraded by `tools/degrade`'],
            ['request', f'`POST /v1/match?top=1`, clip as WAV in the body, over the daemon\'s Unix socket, '
                        f'{info["clients"]} concurrent clients'],
            ['binary', f'`{info["bin"]}`, built {info["bin_built"]}'
                       + (f', version {health["version"]}, fingerprint version {health.get("fingerprint_version", "?")}'
                          if 'version' in health else '')],
            *([['catalog as the daemon reports it', f'{cat.get("tracks")} tracks, {cat.get("hours")} h, '
                                                    f'{cat.get("hashes")} hashes (`/v1/health`)']]
              if isinstance(cat := health.get('catalog'), dict) else []),
        ]),
        '',
        '## Top-1 accuracy',
        '',
        'A query is right when the top match\'s `source_path` names the clip\'s source track.',
        '',
        *accuracy,
        '',
        '## Offset right',
        '',
        f'Right, and `offset_s` within {OFFSET_TOLERANCE_S} s times '
        f'the tempo factor ({", ".join(f"{v} for {c}" for c, v in SPEED_FACTOR.items())}, else 1) of the '
        'excerpt\'s start in the master (tools/degrade cuts the excerpt first, then changes it).',
        '',
        *offsets,
        '',
        '## Factors',
        '',
        f'Right, and both `tempo_factor` and `pitch_factor` within {100 * FACTOR_TOLERANCE:g} % of the '
        'condition\'s (speed ±3 %: both 1.03 / 0.97; tempo ±5 %: 1.05 / 0.95 and 1; pitch ±1 semitone: 1 and '
        '2^(±1/12); else 1 and 1).',
        '',
        *factors,
        '',
    ]
    md += [
        '## Misses',
        '',
        'Catalog queries that were not right: no match at all, or another track as top match '
        '(queries with errors are in neither column).',
        '',
        *misses,
        '',
        '## False positives',
        '',
        'Any match returned for a clip of a held-out track.',
        '',
        *fps,
        '',
        f'**FP: {fp_total} of {held_total} queries.**',
        '',
        '## Scores',
        '',
        'Score (hashes agreeing on the offset) and confidence of the top match, by outcome: where a no-match '
        'threshold would fall.',
        '',
        *scores,
        '',
        '## Latency',
        '',
        'Measured by the client, from sending the request to having read the whole response, with '
        f'{info["clients"]} concurrent clients (nearest-rank percentiles). "server" rows, when present, '
        'sum the durations the daemon reports in its Server-Timing header (decode, fingerprint, lookup): '
        'the difference is transport and waiting for a worker.',
        '',
        *latency,
        '',
        '## Errors',
        '',
        f'{n_errors} of {len(plan)} queries failed (transport error, HTTP status other than 200, or an '
        'unexpected body); they count as not right.',
    ]
    if n_errors:
        md += ['', *table(['error', 'count', 'example'],
                          [[k, v, s['error_examples'][k].replace('|', '\\|')] for k, v in s['errors'].most_common()])]
    md += ['', '## Time', '', 'Wall time of this run\'s phases. Work found under `var/eval/` from earlier runs is '
           'reused; the counts say how much was new.', '', *table(['phase', 'wall time'], [[p, t] for p, t in info['timings']]),
           '', '## Conditions', '', *table(['condition', 'what tools/degrade does'],
                                           [[c, CONDITION_TEXT.get(c, '')] for c in conditions]), '']
    summary = ['Top-1 accuracy:', *accuracy, '', 'Offset right:', *offsets, '',
               f'FP: {fp_total} of {held_total} queries; errors: {n_errors} of {len(plan)}; '
               f'latency p50 {1000 * quantile(all_latency, .5):.1f} ms, p99 {1000 * quantile(all_latency, .99):.1f} ms']
    return '\n'.join(md), '\n'.join(summary)


def catalog_size(directory):
    """(tracks, hours) of the audio files in the ingested directory."""
    files = [os.path.join(directory, f) for f in os.listdir(directory) if TRACK_FILE.match(f)]
    seconds = 0.0
    for path in files:
        out = subprocess.run(['ffprobe', '-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path],
                             capture_output=True, text=True).stdout.strip()
        seconds += float(out or 0)
    return len(files), seconds / 3600


def wall_time(seconds):
    seconds = round(seconds)
    return f'{seconds // 60} min {seconds % 60:02d} s' if seconds >= 60 else f'{seconds} s'


def run_info(args):
    def sh(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    with open('/proc/cpuinfo') as f:
        cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), 'unknown CPU')
    tracks, hours = catalog_size(args.catalog)
    timings = [t.rsplit('=', 1) for t in args.timing]
    try:
        with open(args.health) as f:
            health = json.load(f)
    except (TypeError, OSError, ValueError):
        health = {}
    built = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(os.path.getmtime(args.bin)))
    return dict(command=args.command, bin=args.bin, bin_built=built, date=sh('date', '-u', '+%Y-%m-%d %H:%M UTC'),
                commit=sh('git', 'describe', '--always', '--dirty', '--abbrev=10') or 'unknown',
                machine=f'{os.cpu_count()} cores, {cpu}', catalog_tracks=tracks, catalog_hours=hours,
                tracks=args.tracks, held_out=args.held_out, held_out_first=args.held_out_first,
                duration_s=args.duration_s, seed=args.seed, clients=args.clients, health=health,
                distractors=args.distractors, distractor_duration_s=args.distractor_duration_s,
                timings=[(phase, wall_time(float(seconds))) for phase, seconds in timings])


def main():
    parser = argparse.ArgumentParser(description='Score answers and write the report (part of tools/eval).')
    parser.add_argument('--plan', required=True)
    parser.add_argument('--answers', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--command', required=True, help='the command line that produced the run')
    parser.add_argument('--bin', required=True)
    parser.add_argument('--catalog', required=True, help='the ingested directory')
    parser.add_argument('--tracks', type=int, required=True)
    parser.add_argument('--held-out', type=int, required=True)
    parser.add_argument('--held-out-first', type=int, required=True)
    parser.add_argument('--duration-s', type=float, required=True)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--clients', type=int, required=True)
    parser.add_argument('--distractors', type=int, default=0, help='ingested, never queried tracks')
    parser.add_argument('--distractor-duration-s', type=float, default=0)
    parser.add_argument('--health', help='the body of /v1/health at startup (JSON)')
    parser.add_argument('--timing', action='append', default=[], metavar='PHASE=SECONDS')
    args = parser.parse_args()
    with open(args.plan, newline='') as f:
        plan = list(csv.DictReader(f, delimiter='\t'))
    answers = {}
    with open(args.answers) as f:
        for line in f:
            answer = json.loads(line)
            answers[answer['clip']] = answer
    markdown, summary = report(plan, answers, run_info(args))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write(markdown)
    print(summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())
