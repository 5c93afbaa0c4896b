# shellcheck shell=bash
# Functions shared by scripts/launch-local, scripts/netns-cluster and scripts/launch-slurm:
# finding the rumor binary, deriving a topology from a scenario, keys, starting peers,
# waiting for all of them, stopping them, and gathering their metrics and models.
#
# Sourced, not run. The caller sets `set -euo pipefail` and PROG (its name, for messages),
# and calls cluster_stop_all from its EXIT trap so no peer outlives it. State lives in the
# CLUSTER_* globals below; nothing else is global.

CLUSTER_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_SCRIPTS_DIR=$(dirname "$CLUSTER_LIB_DIR")
CLUSTER_REPO_DIR=$(dirname "$CLUSTER_SCRIPTS_DIR")

RUMOR=""                   # the rumor binary (cluster_find_rumor)
declare -A CLUSTER_PID=()  # node id -> pid of its running peer
declare -A CLUSTER_LOG=()  # node id -> its log file
CLUSTER_TICK=""            # pid of cluster_wait_all's one-second sleeper, if one runs
CLUSTER_STOP_GRACE=${CLUSTER_STOP_GRACE:-10} # seconds between SIGTERM and SIGKILL
CLUSTER_SETTLE=${CLUSTER_SETTLE:-10} # seconds synchronous peers get to stop on their own
CLUSTER_DEADLINE=0         # the scenario runs deadline rounds (cluster_round_mode)
CLUSTER_FAILED=()          # ids of peers that failed while the others went on

cluster_die() {
  echo "$PROG: $*" >&2
  exit 1
}

cluster_usage_error() {
  echo "$PROG: $*" >&2
  echo "Run '$0 --help' for usage." >&2
  exit 2
}

cluster_log() {
  echo "$PROG: $*" >&2
}

# cluster_need CMD...: exits with a message naming the missing commands and their package.
cluster_need() {
  local c missing=()
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] ||
    cluster_die "missing command(s): ${missing[*]} (scripts/setup installs jq, iproute2 and gnuplot-nox)"
}

# cluster_is_uint S: true if S is a non-negative decimal integer.
cluster_is_uint() {
  [[ $1 =~ ^[0-9]+$ ]]
}

# cluster_find_rumor [PATH]: sets RUMOR to PATH, else $RUMOR_BIN, else build/rumor of this
# tree, else `rumor` on PATH; checks that it runs and has the `peer` command.
cluster_find_rumor() {
  local want=${1:-}
  if [ -z "$want" ]; then
    if [ -n "${RUMOR_BIN:-}" ]; then
      want=$RUMOR_BIN
    elif [ -x "$CLUSTER_REPO_DIR/build/rumor" ]; then
      want=$CLUSTER_REPO_DIR/build/rumor
    elif command -v rumor >/dev/null 2>&1; then
      want=$(command -v rumor)
    else
      cluster_die "cannot find the rumor binary: build it (scripts/build), or pass --rumor PATH, or set RUMOR_BIN"
    fi
  fi
  { [ -f "$want" ] && [ -x "$want" ]; } || cluster_die "$want: not an executable file"
  RUMOR=$(realpath "$want")
  "$RUMOR" peer --help >/dev/null 2>&1 ||
    cluster_die "$RUMOR has no working 'peer' command ('$RUMOR peer --help' fails)"
  export RUMOR_BIN=$RUMOR # for scripts/keygen-topology
}

# cluster_check_json FILE WHAT: FILE exists and is one valid JSON document.
cluster_check_json() {
  [ -f "$1" ] || cluster_die "$1: no such $2 file"
  local err
  err=$(jq -e 'type == "object"' "$1" 2>&1 >/dev/null) ||
    cluster_die "$1: not a valid $2 (expected a JSON object${err:+: $err})"
}

# cluster_scenario_name SCENARIO: the scenario's "name", else its file name without .json,
# made safe for a directory name.
cluster_scenario_name() {
  local name
  name=$(jq -r '.name // empty | strings' "$1")
  [ -n "$name" ] || name=$(basename "$1" .json)
  printf '%s\n' "${name//[^A-Za-z0-9._-]/_}"
}

# cluster_scenario_nodes SCENARIO: how many nodes the scenario's topology has.
cluster_scenario_nodes() {
  local sc=$1 t file
  t=$(jq -c '.topology // {"generate": "ring", "n": 16}' "$sc")
  if [ "$(jq -r 'type' <<<"$t")" = string ]; then
    file=$(cluster_scenario_topology_file "$sc")
    jq '.nodes | length' "$file"
  else
    jq '.n // 16' <<<"$t"
  fi
}

# cluster_scenario_topology_file SCENARIO: the topology file the scenario names, resolved
# as rumor does (relative to the scenario's directory), or nothing if it uses a generator.
cluster_scenario_topology_file() {
  local sc=$1 f
  f=$(jq -r '.topology | strings' "$sc")
  [ -n "$f" ] || return 0
  [[ $f == /* ]] || f=$(dirname "$sc")/$f
  [ -f "$f" ] || cluster_die "$sc: topology: no such file '$f'"
  printf '%s\n' "$f"
}

# cluster_base_topology SCENARIO OUT [N]: writes the scenario's graph (nodes sorted by id,
# edges, weights) without endpoints or keys to OUT. N, if given, overrides the node count of
# a generated topology; a topology file cannot be resized.
cluster_base_topology() {
  local sc=$1 out=$2 n=${3:-} file t kind
  file=$(cluster_scenario_topology_file "$sc")
  if [ -n "$file" ]; then
    cluster_check_json "$file" topology
    if [ -n "$n" ] && [ "$(jq '.nodes | length' "$file")" != "$n" ]; then
      cluster_die "$sc uses the topology file $file with $(jq '.nodes | length' "$file") nodes; cannot make it $n nodes"
    fi
    jq '.nodes |= (sort_by(.id) | map(del(.endpoint, .public_key)))' "$file" >"$out" ||
      cluster_die "$file: cannot read its nodes"
    return 0
  fi
  t=$(jq -c '.topology // {"generate": "ring", "n": 16}' "$sc")
  kind=$(jq -r '.generate // empty' <<<"$t")
  [ -n "$kind" ] || cluster_die "$sc: topology.generate: missing"
  [ -n "$n" ] || n=$(jq -r '.n // 16' <<<"$t")
  local args=(topo gen "$kind" --n "$n")
  local rows p k seed
  rows=$(jq -r '.rows // empty' <<<"$t")
  p=$(jq -r '.p // empty' <<<"$t")
  k=$(jq -r '.k // empty' <<<"$t")
  seed=$(jq -r '.seed // 1' <<<"$t")
  [ -z "$rows" ] || [ "$rows" = 0 ] || [ "$kind" != torus ] || args+=(--rows "$rows")
  [ -z "$p" ] || [ "$kind" != er ] || args+=(--p "$p")
  [ -z "$k" ] || [ "$kind" != regular ] || args+=(--k "$k")
  case $kind in er | regular) args+=(--seed "$seed") ;; esac
  local err
  err=$("$RUMOR" "${args[@]}" -o "$out" 2>&1 >/dev/null) ||
    cluster_die "cannot generate the scenario's topology ($RUMOR ${args[*]}): $err"
}

# cluster_set_endpoints IN OUT EXPR [JQ ARGS...]: copies topology IN to OUT with every
# node's endpoint set to the jq expression EXPR, evaluated with the node as input (so .id
# is its id); JQ ARGS (e.g. --argjson base 7400) bind the variables EXPR uses. Public keys
# are dropped: they belong to the endpoints that were replaced.
cluster_set_endpoints() {
  local in=$1 out=$2 expr=$3
  shift 3
  jq "$@" ".nodes |= (sort_by(.id) | map(del(.public_key) | .endpoint = ($expr)))" "$in" \
    >"$out.tmp" || cluster_die "$in: cannot set endpoints"
  mv "$out.tmp" "$out"
}

# cluster_node_ids TOPOLOGY: the node ids, one a line, ascending.
cluster_node_ids() {
  jq -r '.nodes | map(.id) | sort[]' "$1"
}

# cluster_keys TOPOLOGY KEYDIR: KEYDIR/node<i>.key for every node (existing keys are kept)
# and KEYDIR/topology.json = TOPOLOGY with the public keys filled in.
cluster_keys() {
  local topo=$1 keydir=$2 err
  mkdir -p "$keydir"
  chmod 700 "$keydir"
  if [ -x "$CLUSTER_SCRIPTS_DIR/keygen-topology" ]; then
    err=$("$CLUSTER_SCRIPTS_DIR/keygen-topology" "$topo" "$keydir" "$keydir/topology.json" 2>&1 >/dev/null) ||
      cluster_die "cannot create keys in $keydir: $err"
  else
    err=$("$RUMOR" keygen --topology "$topo" --dir "$keydir" -o "$keydir/topology.json" 2>&1 >/dev/null) ||
      cluster_die "cannot create keys in $keydir: $err"
  fi
}

# cluster_free_port_base N: prints a port P such that P .. P+N-1 are not listening here,
# chosen at random in 20000-29999 (below the kernel's ephemeral range) so that concurrent
# runs rarely collide. Uses ss (iproute2) when present.
cluster_free_port_base() {
  local n=$1 base p busy listening=""
  [ "$n" -le 5000 ] || cluster_die "$n nodes: too many for an automatic port range; pass --port-base"
  if command -v ss >/dev/null 2>&1; then
    listening=$(ss -Htln 2>/dev/null | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u) || true
  fi
  for _ in $(seq 1 100); do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % (10000 - n)))
    busy=0
    for ((p = base; p < base + n; p++)); do
      if grep -qx "$p" <<<"$listening"; then
        busy=1
        break
      fi
    done
    if [ "$busy" = 0 ]; then
      echo "$base"
      return 0
    fi
  done
  cluster_die "cannot find $n free consecutive tcp ports in 20000-29999; pass --port-base"
}

# cluster_start ID LOG CMD...: starts CMD in the background with stdin from /dev/null and
# stdout+stderr to LOG, as node ID's peer.
cluster_start() {
  local id=$1 log=$2
  shift 2
  "$@" </dev/null >"$log" 2>&1 &
  CLUSTER_PID[$id]=$!
  CLUSTER_LOG[$id]=$log
}

# cluster_report_log ID [LINES]: the last LINES (default 20) lines of node ID's log,
# indented, on stderr.
cluster_report_log() {
  local log=${CLUSTER_LOG[$1]} lines=${2:-20}
  if [ -s "$log" ]; then
    echo "---- last lines of $log:" >&2
    tail -n "$lines" "$log" | sed 's/^/    /' >&2
  else
    echo "---- $log is empty" >&2
  fi
}

# cluster_alive PID: true while PID is a running (not zombie) child of this shell. Reading
# /proc instead of `kill -0` keeps a recycled pid or an unreaped zombie from passing.
cluster_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # after "pid (comm) ": state, ppid, ...
  read -r -a stat <<<"$stat"
  [ "${stat[0]}" != Z ] && [ "${stat[1]}" = "$$" ]
}

# cluster_round_mode SCENARIO: sets CLUSTER_DEADLINE when the scenario runs deadline rounds.
cluster_round_mode() {
  if jq -e '.round_mode | type == "object"' "$1" >/dev/null 2>&1; then CLUSTER_DEADLINE=1; else CLUSTER_DEADLINE=0; fi
}

# cluster_settle: gives the running peers up to CLUSTER_SETTLE seconds to exit on their own
# (a synchronous peer stops once it hears that a neighbour stopped with an error), reaping
# and reporting each; the stragglers are left to cluster_stop_all.
cluster_settle() {
  local i id st
  for ((i = 0; i < CLUSTER_SETTLE * 5 && ${#CLUSTER_PID[@]} > 0; i++)); do
    sleep 0.2
    for id in $(printf '%s\n' "${!CLUSTER_PID[@]}" | sort -n); do
      cluster_alive "${CLUSTER_PID[$id]}" && continue
      st=0
      wait "${CLUSTER_PID[$id]}" 2>/dev/null || st=$?
      unset "CLUSTER_PID[$id]"
      cluster_log "peer $id stopped too (exit status $st): $(tail -n 1 "${CLUSTER_LOG[$id]}" 2>/dev/null)"
    done
  done
}

# cluster_exited ID STATUS: bookkeeping for a peer that exited. A failure returns 1 after
# reporting it and stopping the others, which in synchronous rounds first get the chance to
# stop on their own; in deadline rounds the others go on without it (CLUSTER_FAILED keeps
# it for cluster_wait_all's verdict) and it returns 0.
cluster_exited() {
  local id=$1 st=$2
  unset "CLUSTER_PID[$id]"
  if [ "$st" -eq 0 ]; then
    cluster_log "peer $id done (${#CLUSTER_PID[@]} still running)"
    return 0
  fi
  if [ "$st" -gt 128 ]; then
    cluster_log "peer $id failed: killed by signal $((st - 128)) ($(kill -l "$((st - 128))" 2>/dev/null || echo '?'))"
  else
    cluster_log "peer $id failed: exit status $st"
  fi
  cluster_report_log "$id"
  if [ "$CLUSTER_DEADLINE" = 1 ] && [ ${#CLUSTER_PID[@]} -gt 0 ]; then
    CLUSTER_FAILED+=("$id")
    cluster_log "deadline rounds: the other ${#CLUSTER_PID[@]} peer(s) go on without it"
    return 0
  fi
  if [ ${#CLUSTER_PID[@]} -gt 0 ]; then
    cluster_settle
    [ ${#CLUSTER_PID[@]} -eq 0 ] || cluster_log "stopping the other ${#CLUSTER_PID[@]} peer(s)"
  fi
  cluster_stop_all
  return 1
}

# cluster_wait_all [TIMEOUT_S]: waits until every started peer has exited. Returns 0 if all
# exited 0. On the first failure (or when TIMEOUT_S > 0 seconds have passed) it names the
# peer(s), shows the tail of their logs, stops the others and returns 1; in deadline rounds
# (cluster_round_mode) a failure leaves the others running, and it returns 1 at the end.
cluster_wait_all() {
  local timeout=${1:-0} pid id st left start=$SECONDS
  local -A id_of=()
  for id in "${!CLUSTER_PID[@]}"; do id_of[${CLUSTER_PID[$id]}]=$id; done
  while [ ${#CLUSTER_PID[@]} -gt 0 ]; do
    # Block until a peer exits or the one-second tick ends. The tick is never killed: a
    # forked shell that has not yet become `sleep` would run this script's traps (and
    # stop the peers). bash forgets a job killed by a signal once it has reported it, and
    # `wait -n` then no longer sees it; the scan below catches such peers with a plain
    # `wait PID`, which still knows their status.
    if [ -z "$CLUSTER_TICK" ]; then
      sleep 1 &
      CLUSTER_TICK=$!
    fi
    pid=""
    st=0
    wait -n -p pid "${CLUSTER_PID[@]}" "$CLUSTER_TICK" 2>/dev/null || st=$?
    if [ "${pid:-}" = "$CLUSTER_TICK" ]; then
      CLUSTER_TICK=""
    elif [ -n "${pid:-}" ]; then
      cluster_exited "${id_of[$pid]}" "$st" || return 1
    fi
    for id in $(printf '%s\n' "${!CLUSTER_PID[@]}" | sort -n); do
      pid=${CLUSTER_PID[$id]}
      cluster_alive "$pid" && continue
      st=0
      wait "$pid" 2>/dev/null || st=$?
      cluster_exited "$id" "$st" || return 1
    done
    if [ "$timeout" -gt 0 ] && [ ${#CLUSTER_PID[@]} -gt 0 ] && [ $((SECONDS - start)) -ge "$timeout" ]; then
      left=$(printf '%s\n' "${!CLUSTER_PID[@]}" | sort -n | tr '\n' ' ')
      cluster_log "timeout: ${timeout}s passed and peer(s) ${left% } are still running; stopping them"
      for id in $left; do cluster_report_log "$id" 3; done
      cluster_stop_all
      return 1
    fi
  done
  cluster_end_tick
  if [ ${#CLUSTER_FAILED[@]} -gt 0 ]; then
    cluster_log "peer(s) ${CLUSTER_FAILED[*]} failed; the others finished"
    return 1
  fi
  return 0
}

# cluster_end_tick: waits for cluster_wait_all's tick, if one runs (at most a second).
cluster_end_tick() {
  if [ -n "$CLUSTER_TICK" ]; then
    wait "$CLUSTER_TICK" 2>/dev/null || true
    CLUSTER_TICK=""
  fi
}

# cluster_stop_all: SIGTERM to every running peer (they write a final checkpoint), SIGKILL
# to those still running CLUSTER_STOP_GRACE seconds later, and reaps them. Safe to call
# more than once and from traps.
cluster_stop_all() {
  local id pid i alive
  [ ${#CLUSTER_PID[@]} -gt 0 ] || {
    cluster_end_tick
    return 0
  }
  for pid in "${CLUSTER_PID[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < CLUSTER_STOP_GRACE * 10; i++)); do
    alive=0
    for pid in "${CLUSTER_PID[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then
        alive=1
        break
      fi
    done
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  for id in "${!CLUSTER_PID[@]}"; do
    pid=${CLUSTER_PID[$id]}
    if kill -0 "$pid" 2>/dev/null; then
      cluster_log "peer $id ignored SIGTERM for ${CLUSTER_STOP_GRACE}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "CLUSTER_PID[$id]"
  done
  cluster_end_tick
}

# cluster_gather DIR ID...: DIR/metrics.jsonl = every DIR/peer<i>.jsonl record, sorted by
# round then peer; DIR/models.bin = DIR/peer<i>.model concatenated in the order of the ids
# given (ascending ids make it comparable with `rumor sim --models`).
cluster_gather() {
  local dir=$1 id size first_size="" files=() models=()
  shift
  for id in "$@"; do
    if [ -s "$dir/peer$id.jsonl" ]; then
      files+=("$dir/peer$id.jsonl")
    else
      cluster_log "warning: peer $id wrote no metrics ($dir/peer$id.jsonl is missing or empty)"
    fi
    [ -f "$dir/peer$id.model" ] || cluster_die "peer $id exited 0 but wrote no model ($dir/peer$id.model)"
    size=$(stat -c %s "$dir/peer$id.model")
    if [ -z "$first_size" ]; then
      first_size=$size
    elif [ "$size" != "$first_size" ]; then
      cluster_die "$dir/peer$id.model has $size bytes, but the first model has $first_size"
    fi
    models+=("$dir/peer$id.model")
  done
  if [ ${#files[@]} -gt 0 ]; then
    jq -c -s 'sort_by(.round, .peer)[]' "${files[@]}" >"$dir/metrics.jsonl.tmp" ||
      cluster_die "cannot merge the metrics files (not JSON Lines?)"
  else
    : >"$dir/metrics.jsonl.tmp"
  fi
  mv "$dir/metrics.jsonl.tmp" "$dir/metrics.jsonl"
  cat "${models[@]}" >"$dir/models.bin.tmp"
  mv "$dir/models.bin.tmp" "$dir/models.bin"
}

# cluster_summary DIR: one line per peer from DIR/metrics.jsonl (its last evaluation:
# round, accuracy, bytes sent), the mean over peers, and the time split of a round.
cluster_summary() {
  local dir=$1 rows
  rows=$(jq -r -s '
      map(select(.peer != null)) | group_by(.peer) | map(max_by(.round))
      | .[] | [.peer, .round, (.acc // "nan"), (.loss // "nan"), (.bytes_sent // 0)] | @tsv
    ' "$dir/metrics.jsonl") || cluster_die "$dir/metrics.jsonl: cannot summarise"
  if [ -z "$rows" ]; then
    cluster_log "no metrics to summarise"
    return 0
  fi
  awk -F '\t' '
    { printf "peer %3d  round %6d  acc %.4f  loss %.4f  sent %9.3f MB\n", $1, $2, $3, $4, $5 / 1e6
      n++; acc += $3; sent += $5 }
    END { printf "mean      %-12s  acc %.4f  %-11s  sent %9.3f MB  (%d peers)\n", "", acc / n, "", sent / n / 1e6, n }
  ' <<<"$rows"
  # The time split of a round, mean per peer: wall clock (which on a machine with fewer cores
  # than peers includes waiting for a core) and CPU time (work done, whatever the sharing).
  jq -r -s '
      map(select(.peer != null and .time_compute_s != null)) | group_by(.peer) | map(max_by(.round))
      | select(length > 0)
      | def mean(f): (map(f) | add) / length;
        [mean(.time_compute_s), mean(.time_codec_s), mean(.time_comm_s),
         mean(.cpu_compute_s // 0), mean(.cpu_codec_s // 0), mean(.cpu_other_s // 0), length] | @tsv
    ' "$dir/metrics.jsonl" | awk -F '\t' -v cores="$(nproc 2>/dev/null || echo 0)" '
    function pct(a, b) { return a + b > 0 ? 100 * b / (a + b) : 0 }
    { printf "time per peer: wall  compute %.2f s  codec %.2f s  network %.2f s  (%.1f%% outside compute)\n", $1, $2, $3, pct($1, $2 + $3)
      printf "               CPU   compute %.2f s  codec %.2f s  network %.2f s  (%.1f%% outside compute)\n", $4, $5, $6, pct($4, $5 + $6)
      if (cores > 0 && $7 > cores)
        printf "               (%d peers on %d cores: the wall clock includes waiting for a core)\n", $7, cores }'
}
