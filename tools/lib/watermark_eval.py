#!/usr/bin/env python3
"""Robustness and quality of Tracemark's audio mark: embed into rendered tracks, cut excerpts at
random offsets, degrade them with sox/ffmpeg, detect with tracemark-watermark-tool, and write the
table to docs/watermark.md (between the eval markers)."""

import argparse, json, os, random, subprocess, sys, time, wave
import numpy as np

ATTACKS = {
    'none': 'excerpt unchanged',
    'mp3-64': 'MP3 64 kbit/s (libmp3lame), decoded back',
    'vorbis-64': 'Ogg Vorbis about 64 kbit/s (libvorbis), decoded back',
    'resample-16k': 'resampled to 16 kHz (sox rate)',
    'mono': 'mono downmix',
    'gain-10': 'gain -10 dB',
    'gain+6-limit': 'gain +6 dB then a limiter at -0.2 dBFS (ffmpeg alimiter)',
    'noise-20': 'white noise at 20 dB SNR',
    'speed+2': '2 % faster, pitch with it (sox speed 1.02)',
    'speed-2': '2 % slower (sox speed 0.98)',
}

def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def add_noise(src, dst, snr_db, rng):
    with wave.open(src) as w:
        params = w.getparams()
        x = np.frombuffer(w.readframes(params.nframes), dtype='<i2').astype(np.float64)
    noise = rng.standard_normal(x.size)
    noise *= np.sqrt(np.mean(x ** 2) / 10 ** (snr_db / 10)) / np.sqrt(np.mean(noise ** 2))
    y = np.clip(np.round(x + noise), -32768, 32767).astype('<i2')
    with wave.open(dst, 'wb') as w:
        w.setparams(params)
        w.writeframes(y.tobytes())

def degrade(clip, attack, out_dir, rng):
    base = os.path.join(out_dir, os.path.basename(clip)[:-4] + '.' + attack)
    out = base + '.wav'
    if attack == 'none': return clip
    if attack in ('mp3-64', 'vorbis-64'):
        ext, codec = ('mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']) if attack == 'mp3-64' else ('ogg', ['-c:a', 'libvorbis', '-b:a', '64k'])
        run(['ffmpeg', '-y', '-loglevel', 'error', '-i', clip] + codec + [base + '.' + ext])
        return base + '.' + ext
    if attack == 'resample-16k': run(['sox', clip, out, 'rate', '16000'])
    elif attack == 'mono': run(['sox', clip, out, 'remix', '-'])
    elif attack == 'gain-10': run(['sox', clip, out, 'gain', '-10'])
    elif attack == 'gain+6-limit':
        run(['ffmpeg', '-y', '-loglevel', 'error', '-i', clip, '-af', 'volume=6dB,alimiter=limit=0.977:attack=5:release=50', out])
    elif attack == 'noise-20': add_noise(clip, out, 20, rng)
    elif attack == 'speed+2': run(['sox', clip, out, 'speed', '1.02'])
    elif attack == 'speed-2': run(['sox', clip, out, 'speed', '0.98'])
    return out

def detect(tool, key, serial, files):
    cmd = [tool, 'detect', *files, '--key-hex', key] + (['--serial', str(serial)] if serial is not None else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]

def audio_samples(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float64)

def swr_db(original, marked):
    x, y = audio_samples(original), audio_samples(marked)
    n = min(x.size, y.size)
    return 10 * np.log10(np.sum(x[:n] ** 2) / max(np.sum((y[:n] - x[:n]) ** 2), 1e-9))

def audiowmark_get(binary, path, speed):
    """The payloads audiowmark reports for one file (it lists every candidate it decodes, unauthenticated)."""
    cmd = [binary, 'get', '-q', '--json', '-', path] + (['--detect-speed'] if speed else [])
    t = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    elapsed = time.monotonic() - t
    try:
        matches = json.loads(out).get('matches', [])
    except json.JSONDecodeError:
        matches = []
    return [m['bits'] for m in matches], elapsed

def audiowmark_version(binary):
    out = subprocess.run([binary, '--version'], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else 'audiowmark'

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tool', required=True)
    ap.add_argument('--tracks', nargs='+', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--excerpts', type=int, default=5, help='excerpts per track and attack')
    ap.add_argument('--unmarked', type=int, default=30, help='unmarked excerpts per track')
    ap.add_argument('--seconds', type=float, default=15)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--doc', required=True)
    ap.add_argument('--command', required=True)
    ap.add_argument('--audiowmark', default=os.environ.get('AUDIOWMARK'),
                    help='an audiowmark binary to run on the same tracks, excerpts and attacks (default $AUDIOWMARK)')
    ap.add_argument('--audiowmark-excerpts', type=int, default=None,
                    help='audiowmark runs on the first N excerpts of each track (default: all); it is slow')
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    prng = random.Random(a.seed)
    key = 'c3' * 32
    os.makedirs(a.work, exist_ok=True)
    embeds, rows = [], {k: [] for k in ATTACKS}
    unmarked_files = []
    issued, aw_embeds, aw_rows, aw_speed = [], [], {k: [] for k in ATTACKS}, []
    aw_rng = np.random.default_rng(a.seed + 1) # its own noise draws: ours stay those of a run without it
    for t, track in enumerate(a.tracks):
        serial = 1000 + t
        marked = os.path.join(a.work, f'marked-{t}.wav')
        original = os.path.join(a.work, f'original-{t}.wav')
        run(['sox', track, '-b', '16', original])
        out = subprocess.run([a.tool, 'embed', original, marked, '--key-hex', key, '--serial', str(serial)],
                             check=True, capture_output=True, text=True).stdout
        embeds.append(json.loads(out))
        duration = float(subprocess.run(['soxi', '-D', marked], capture_output=True, text=True).stdout)
        clips, starts = [], []
        for e in range(a.excerpts):
            start = prng.uniform(0, duration - a.seconds - 0.1)
            clip = os.path.join(a.work, f'clip-{t}-{e}.wav')
            run(['sox', marked, clip, 'trim', f'{start:.4f}', str(a.seconds)])
            clips.append(clip)
            starts.append(start)
        for attack in ATTACKS:
            files = [degrade(c, attack, a.work, rng) for c in clips]
            rows[attack] += [(r, serial) for r in detect(a.tool, key, serial, files)]
            print(f'track {t} {attack}: ' + ' '.join('ok' if r.get('serial') == serial else f"x{r.get('bit_errors')}" for r, _ in rows[attack][-len(files):]), file=sys.stderr)
        if a.audiowmark:
            # The same 128 bits (this track's mark) into the same track with audiowmark's defaults;
            # the same excerpt starts and attacks. A clip counts as recovered when the payload is
            # among the patterns audiowmark reports (its `cmp` rule); the speed attacks get
            # --detect-speed, which the operator has to ask for.
            payload = subprocess.run([a.tool, 'mark', '--key-hex', key, '--serial', str(serial)],
                                     check=True, capture_output=True, text=True).stdout
            payload = json.loads(payload)['mark']
            issued.append(payload)
            aw_marked = os.path.join(a.work, f'audiowmark-{t}.wav')
            t0 = time.monotonic()
            run([a.audiowmark, 'add', '-q', original, aw_marked, payload])
            aw_embeds.append({'swr_db': swr_db(original, aw_marked), 'realtime': duration / (time.monotonic() - t0)})
            for e, start in enumerate(starts[:a.audiowmark_excerpts]):
                clip = os.path.join(a.work, f'awclip-{t}-{e}.wav')
                run(['sox', aw_marked, clip, 'trim', f'{start:.4f}', str(a.seconds)])
                for attack in ATTACKS:
                    bits, elapsed = audiowmark_get(a.audiowmark, degrade(clip, attack, a.work, aw_rng), attack.startswith('speed'))
                    aw_rows[attack].append(payload in bits)
                    aw_speed.append(a.seconds / elapsed)
            print(f'track {t} audiowmark: ' + ' '.join(f'{k} {sum(v)}/{len(v)}' for k, v in aw_rows.items()), file=sys.stderr)
        for u in range(a.unmarked):
            start = prng.uniform(0, duration - a.seconds - 0.1)
            clip = os.path.join(a.work, f'unmarked-{t}-{u}.wav')
            run(['sox', original, clip, 'trim', f'{start:.4f}', str(a.seconds)])
            unmarked_files.append(clip)
    unmarked = detect(a.tool, key, None, unmarked_files)
    false_positives = sum(1 for r in unmarked if r['found'])
    if a.audiowmark:
        # Per unmarked excerpt: does audiowmark report any of the payloads issued in this run?
        aw_unmarked = unmarked_files[::max(1, len(unmarked_files) // (len(a.tracks) * (a.audiowmark_excerpts or a.excerpts)))]
        aw_false, aw_patterns = 0, 0
        for f in aw_unmarked:
            bits, _ = audiowmark_get(a.audiowmark, f, False)
            aw_false += any(b in issued for b in bits)
            aw_patterns += len(bits)

    aw = bool(a.audiowmark)
    lines = ['| attack | excerpts | fully recovered | mean bit errors | detect speed (x realtime, wall / thread CPU) |' + (' audiowmark: recovered |' if aw else ''),
             '| --- | --- | --- | --- | --- |' + (' --- |' if aw else '')]
    for attack, desc in ATTACKS.items():
        rs = rows[attack]
        ok = sum(1 for r, s in rs if r.get('serial') == s)
        errors = np.mean([r.get('bit_errors', 128) for r, _ in rs])
        speed = np.median([r['realtime'] for r, _ in rs])
        cpu = np.median([r['realtime_cpu'] for r, _ in rs])
        lines.append(f'| {attack}: {desc} | {len(rs)} | {ok} ({100 * ok / len(rs):.0f} %) | {errors:.1f} | {speed:.0f} / {cpu:.0f} |'
                     + (f' {sum(aw_rows[attack])} of {len(aw_rows[attack])} ({100 * sum(aw_rows[attack]) / len(aw_rows[attack]):.0f} %) |' if aw else ''))
    swr = [e['swr_db'] for e in embeds]
    table = '\n'.join(lines) + '\n\n' + '\n'.join([
        f'- unmarked excerpts ({a.seconds:g} s, from the same tracks before marking): {len(unmarked)} tried, '
        f'{false_positives} reported a mark',
        f'- signal-to-watermark ratio per track: ' + ', '.join(f'{s:.1f}' for s in swr) + f' dB (min {min(swr):.1f}, mean {np.mean(swr):.1f})',
        f'- quantiser step chosen per track: ' + ', '.join(f'{e["step"]:.4f}' for e in embeds if 'step' in e),
        f'- embedding speed: median {np.median([e["realtime"] for e in embeds]):.0f}x realtime wall clock, '
        f'{np.median([e["realtime_cpu"] for e in embeds]):.0f}x by the thread\'s CPU time (3-minute stereo 44.1 kHz tracks, one thread, shared 2-core machine)',
        f'- detection speed: median {np.median([r["realtime"] for r in unmarked]):.0f}x realtime wall clock, '
        f'{np.median([r["realtime_cpu"] for r in unmarked]):.0f}x by CPU time, on {a.seconds:g} s excerpts (one thread; the first file of each batch includes FFTW planning)',
        (f'- audiowmark ({audiowmark_version(a.audiowmark)}, default strength, the same 128 bits per track; same tracks, '
         f'the first {a.audiowmark_excerpts or a.excerpts} excerpts of each track and the same attacks; recovered = the payload is among the '
         f'patterns it reports, as its `cmp` checks; --detect-speed on the speed attacks only): '
         f'signal-to-watermark ratio ' + ', '.join(f'{e["swr_db"]:.1f}' for e in aw_embeds) + ' dB; '
         f'embedding median {np.median([e["realtime"] for e in aw_embeds]):.0f}x realtime, detection median {np.median(aw_speed):.1f}x (wall clock, its own threads); '
         f'{len(aw_unmarked)} unmarked excerpts: {aw_false} reported an issued payload, {aw_patterns / max(1, len(aw_unmarked)):.1f} unauthenticated patterns reported per excerpt'
         if aw else '- audiowmark side by side: not run (no --audiowmark binary given)'),
        '', f'Produced by `{a.command}`.'])
    doc = open(a.doc).read()
    begin, end = '<!-- eval:begin -->', '<!-- eval:end -->'
    head, rest = doc.split(begin)
    _, tail = rest.split(end)
    open(a.doc, 'w').write(head + begin + '\n' + table + '\n' + end + tail)
    print(table)

if __name__ == '__main__':
    main()
