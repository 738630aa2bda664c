"""Schemathesis hooks for tools/fuzz/api (loaded through SCHEMATHESIS_HOOKS).

- Every answer is recorded, one tab-separated line per request (operation, status, seconds,
  Content-Type), in the file named by TRACEMARK_FUZZ_LOG; a request that got no answer at all is
  recorded with status `error`. The tool counts requests and statuses from this file.
- Bodies generated from the schema for the audio routes are strings and bytes that are almost
  never audio. So that the routes also get past decoding, a share of the positive cases
  (TRACEMARK_FUZZ_AUDIO_SHARE, default 0.25; cases positive in every part and without a raw-PCM
  `format`) has its body replaced by one of the real audio
  files in TRACEMARK_FUZZ_BODIES (a directory), chosen by a seeded generator. Negative cases
  keep their generated bodies: they are meant to be refused.
"""

import os
import random
import threading

import schemathesis
from schemathesis import GenerationMode

_lock = threading.Lock()
_log_path = os.environ.get('TRACEMARK_FUZZ_LOG')
_share = float(os.environ.get('TRACEMARK_FUZZ_AUDIO_SHARE', '0.25'))
_rng = random.Random(int(os.environ.get('TRACEMARK_FUZZ_SEED', '1')))
_bodies = []
_directory = os.environ.get('TRACEMARK_FUZZ_BODIES')
if _directory:
    for name in sorted(os.listdir(_directory)):
        path = os.path.join(_directory, name)
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                _bodies.append((name, f.read()))

MEDIA_TYPES = {'wav': 'audio/wav', 'flac': 'audio/flac', 'ogg': 'audio/ogg', 'mp3': 'audio/mpeg', 'opus': 'audio/ogg'}
# Audio bodies go out as they are, like application/octet-stream (the document's `audio/*`).
schemathesis.serializer.alias(sorted(set(MEDIA_TYPES.values())), 'application/octet-stream')


def _record(case, status, seconds, content_type):
    if not _log_path:
        return
    line = f'{case.method.upper()} {case.operation.path}\t{status}\t{seconds:.3f}\t{content_type}\n'
    with _lock, open(_log_path, 'a') as f:
        f.write(line)


@schemathesis.hook
def before_call(context, case, **kwargs):
    if not _bodies or case.media_type is None or case.method.upper() != 'POST':
        return
    meta = getattr(case, '_meta', None)
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE or any(
            info.mode != GenerationMode.POSITIVE for info in meta.components.values()):
        return
    if case.query and 'format' in case.query:
        return  # a raw-PCM layout in the query describes some other body
    with _lock:
        if _rng.random() >= _share:
            return
        name, body = _rng.choice(_bodies)
    case.body = body
    case.media_type = 'application/octet-stream'


@schemathesis.hook
def after_call(context, case, response):
    content_type = ','.join(response.headers.get('content-type', [])) if response.headers else ''
    _record(case, response.status_code, response.elapsed, content_type)


@schemathesis.hook
def after_network_error(context, case, request):
    _record(case, 'error', 0.0, '')
