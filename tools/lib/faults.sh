# Shared by the fault scripts in tools/faults/: sourced, not run. Expects `set -euo pipefail`,
# the repository root as the working directory, and $TOOL set to the script's name for messages.
#
# Everything lives under var/faults/ (git-ignored): the rendered catalog is shared by every script
# and reused; each script keeps its data directory (embedded PostgreSQL cluster, socket) apart.

FAULTS_WORK=var/faults
CATALOG_DIR=$FAULTS_WORK/catalog
CATALOG_TRACKS=40          # the shared catalog: 40 rendered tracks of 90 s, Ogg Vorbis, seed 11
CATALOG_DURATION_S=90
CATALOG_SEED=11
HEALTH_TIMEOUT_S=120       # wait for a daemon to answer /v1/health
STOP_TIMEOUT_S=60          # wait for a daemon to exit after SIGTERM before SIGKILL

die() { echo "$TOOL: $*" >&2; exit 1; }
need_value() { (($# >= 2)) && [[ -n $2 ]] || die "$1 needs a value (see $TOOL --help)"; }
now() { date +%s.%N; }
# Seconds elapsed since a `now` value, to milliseconds.
since() { echo "$(now) - $1" | bc | awk '{printf "%.3f", $1}'; }
utc_date() { date -u +%Y-%m-%d; }

# The command as typed, for the report; arguments with shell-special characters in single quotes.
quote_command() {
  local line=$1 arg; shift
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./,:+=@%-]+$ ]]; then line+=" $arg"
    else line+=" '${arg//\'/\'\\\'\'}'"; fi
  done
  echo "$line"
}

# Resolves --bin: the release build unless a path was given.
resolve_bin() {
  local bin=$1
  if [[ -z $bin ]]; then
    command -v swift >/dev/null || die "swift is not on PATH; pass --bin PATH to a built tracemark"
    bin=$(swift build -c release --show-bin-path)/tracemark
    if [[ ! -x $bin ]]; then
      echo "== build: $bin is missing, building it" >&2
      swift build -c release --product tracemark >&2
    fi
  fi
  [[ -x $bin ]] || die "tracemark binary not found or not executable: $bin"
  "$bin" ingest --help >/dev/null 2>&1 || die "$bin has no working 'ingest' command; rebuild it"
  echo "$bin"
}

# Checks for the tools a script needs (names as arguments).
require_tools() {
  local missing=() tool
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]}; install them with: tools/setup --media"
}

# Renders the shared catalog (only the tracks that are missing).
ensure_catalog() {
  local want="seed=$CATALOG_SEED duration_s=$CATALOG_DURATION_S format=ogg tracks=$CATALOG_TRACKS"
  if [[ -f $CATALOG_DIR.params && $(cat "$CATALOG_DIR.params") != "$want" ]]; then
    die "$CATALOG_DIR was rendered with '$(cat "$CATALOG_DIR.params")', not '$want'; remove it to start over"
  fi
  mkdir -p "$CATALOG_DIR"
  local have
  have=$(find "$CATALOG_DIR" -maxdepth 1 -name 'track-*.ogg' | wc -l)
  if ((have < CATALOG_TRACKS)); then
    echo "== render: $((CATALOG_TRACKS - have)) of $CATALOG_TRACKS tracks of ${CATALOG_DURATION_S} s into $CATALOG_DIR"
    nice -n 10 tools/make-catalog "$CATALOG_DIR" --tracks "$CATALOG_TRACKS" --duration-s "$CATALOG_DURATION_S" \
      --format ogg --seed "$CATALOG_SEED" >"$FAULTS_WORK/render.log" 2>&1 \
      || { tail -n 20 "$FAULTS_WORK/render.log" >&2; die "rendering the catalog failed (log: $FAULTS_WORK/render.log)"; }
  fi
  echo "$want" >"$CATALOG_DIR.params"
}

# The first N tracks of the shared catalog, one path per line.
catalog_files() { find "$CATALOG_DIR" -maxdepth 1 -name 'track-*.ogg' | sort | head -n "$1"; }

# Cuts a 10 s WAV excerpt (from 20 s in) of each file given into $1, printing the excerpt paths.
cut_clips() {
  local out=$1 file clip; shift
  mkdir -p "$out"
  for file in "$@"; do
    clip=$out/$(basename "${file%.*}")-10s.wav
    [[ -s $clip ]] || sox "$file" "$clip" trim 20 10
    echo "$clip"
  done
}

# --- the embedded cluster, seen from outside ---------------------------------------------------
# PostgreSQL refuses to run as root: as root the cluster belongs to the postgres user (as Tracemark
# arranges it), and its server programs run as that user.
pg_bin() {
  local v
  if [[ -n ${TRACEMARK_PG_BIN:-} && -x $TRACEMARK_PG_BIN/pg_ctl ]]; then echo "$TRACEMARK_PG_BIN"; return; fi
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    [[ -x /usr/lib/postgresql/$v/bin/pg_ctl ]] && { echo "/usr/lib/postgresql/$v/bin"; return; }
  done
  die "PostgreSQL's pg_ctl not found (tools/setup installs it)"
}
as_server_user() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }
# pg_ctl against a data directory's cluster: pg_ctl_in HOME start|stop|status [options].
pg_ctl_in() {
  local home=$1 action=$2; shift 2
  local cluster
  cluster=$(realpath "$home")/postgres
  case $action in
    start) as_server_user "$(pg_bin)/pg_ctl" -D "$cluster" -l "$cluster/server.log" -w -t 60 "$@" start ;;
    *) as_server_user "$(pg_bin)/pg_ctl" -D "$cluster" "$@" "$action" ;;
  esac
}
pg_running() { pg_ctl_in "$1" status >/dev/null 2>&1; }
# The postmaster's pid, from postmaster.pid (empty when there is none).
postmaster_pid() { head -n 1 "$1/postgres/postmaster.pid" 2>/dev/null || true; }
# One SQL statement against the catalog database: unaligned, tuples only, stops on error.
pgq() {
  local home=$1; shift
  psql -X -A -t -q -v ON_ERROR_STOP=1 -h "$(realpath "$home")/postgres" -U tracemark -d tracemark -c "$*"
}

# --- the daemon ----------------------------------------------------------------------------------
# health SOCKET: the HTTP status of /v1/health, 000 when nothing answers.
health() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$1" http://localhost/v1/health || true; }

# start_daemon BIN HOME LOG: starts `tracemark serve` in the background and sets $daemon_pid.
daemon_pid=""
start_daemon() {
  local bin=$1 home=$2 log=$3
  "$bin" serve --data-dir "$home" --log-level warning >>"$log" 2>&1 &
  daemon_pid=$!
}

# wait_health SOCKET LOG: waits for /v1/health to answer 200; prints the seconds it took.
wait_health() {
  local sock=$1 log=$2 t
  t=$(now)
  local deadline=$((SECONDS + HEALTH_TIMEOUT_S))
  until [[ $(health "$sock") == 200 ]]; do
    if [[ -n $daemon_pid ]] && ! kill -0 "$daemon_pid" 2>/dev/null; then
      tail -n 20 "$log" >&2
      echo "$TOOL: the daemon exited before answering /v1/health (log: $log)" >&2
      return 1
    fi
    ((SECONDS < deadline)) || { tail -n 20 "$log" >&2; echo "$TOOL: no 200 from /v1/health within ${HEALTH_TIMEOUT_S} s" >&2; return 1; }
    sleep 0.05
  done
  since "$t"
}

# stop_daemon: SIGTERM, then SIGKILL after STOP_TIMEOUT_S; sets $daemon_exit to the exit status.
# Not in a subshell: only the shell that started the daemon can wait for it.
daemon_exit=""
stop_daemon() {
  [[ -n $daemon_pid ]] || return 0
  local pid=$daemon_pid waited=0 status=0
  daemon_pid=""
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT_S * 10)); do sleep 0.1; ((waited += 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$TOOL: the daemon did not exit ${STOP_TIMEOUT_S} s after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || status=$?
  daemon_exit=$status
}
