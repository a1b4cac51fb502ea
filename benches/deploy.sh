#!/usr/bin/env bash
# Deploy benchmark: ferry against 8 real sshd test hosts (tests/support/testbed-hosts.sh),
# applying 10 directories + 200 files (~1 KiB each) + 1 template + 1 handler.
# Measures cold apply, no-op re-apply and a one-file change (median of RUNS each), and the
# same work done by plain `ssh` + `tar`/`sha256sum` per host, in parallel, as the baseline.
#
# Usage (as root): benches/deploy.sh [path/to/ferry]
#   default binary: $CARGO_TARGET_DIR/release/ferry (build it with `cargo build --release`)
# Env: RUNS (default 5), HOSTS (default 8), BENCH_NET (default 10.77.99: not a test slot).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FERRY=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}
RUNS=${RUNS:-5}
N=${HOSTS:-8}
[ "$(id -u)" = 0 ] || { echo "deploy.sh: the test hosts need root" >&2; exit 2; }
[ -x "$FERRY" ] || { echo "deploy.sh: no ferry binary at $FERRY; run cargo build --release" >&2; exit 2; }
command -v jq >/dev/null || { echo "deploy.sh: needs jq" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
TB=$WORK/tb
HOSTS_SH=$ROOT/tests/support/testbed-hosts.sh
cleanup() {
  "$HOSTS_SH" down "$TB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
TESTBED_NAME=fbench TESTBED_NET=${BENCH_NET:-10.77.99} "$HOSTS_SH" up "$N" "$TB" >/dev/null
mapfile -t NAMES < <(cut -d' ' -f1 "$TB/inventory")

# The content, once as files for the baseline and once as an environment file for ferry.
SRC=$WORK/src
mkdir -p "$SRC"
ENV=$WORK/env.toml
{
  echo '[provider]'
  echo 'type = "static"'
  while read -r name addr; do
    printf '[[hosts]]\nname = "%s"\naddress = "%s"\nkey = "%s"\nknown_hosts = "%s"\n' \
      "$name" "$addr" "$TB/id_ed25519" "$TB/known_hosts"
  done < "$TB/inventory"
  echo '[vars]'
  echo 'app = "bench"'
  echo '[handlers.reload]'
  echo 'command = "date +%s%N >> /srv/bench/reloads"'
  for d in $(seq 0 9); do
    mkdir -p "$SRC/d$d"
    printf '[[configure]]\ntype = "directory"\npath = "/srv/bench/d%s"\n' "$d"
  done
  for f in $(seq 0 199); do
    d=$((f % 10))
    # ~1 KiB of text per file, different in every file.
    head -c 768 /dev/urandom | base64 -w 64 > "$SRC/d$d/f$f.conf"
    printf '[[configure]]\ntype = "file"\npath = "/srv/bench/d%s/f%s.conf"\nsource = "src/d%s/f%s.conf"\nnotify = ["reload"]\n' "$d" "$f" "$d" "$f"
  done
  printf '[[configure]]\ntype = "template"\npath = "/srv/bench/app.conf"\n'
  printf 'template = "app = {{ app }}\\nhost = {{ host.name }}\\narch = {{ facts.arch }}\\n"\nnotify = ["reload"]\n'
} > "$ENV"

export FERRY_STATE_DIR=$WORK/state
cd "$WORK"
"$FERRY" create bench --config "$ENV" >/dev/null
"$FERRY" provision bench >/dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
reset_hosts() { for h in "${NAMES[@]}"; do rm -rf "$TB/$h/fs/srv/bench"; done; }
ferry_run() { # prints elapsed seconds; checks the run and records its round trips per host
  local t0 t1 out
  t0=$(now)
  out=$("$FERRY" configure bench --json 2>"$WORK/stderr") \
    || { echo "$out" >&2; cat "$WORK/stderr" >&2; echo "ferry failed" >&2; exit 1; }
  t1=$(now)
  jq '.hosts[].round_trips' <<<"$out" >> "$WORK/round_trips"
  echo "$t1 - $t0" | bc -l
}
SSH=(ssh -F "$TB/ssh_config" -o BatchMode=yes)
on_all() { # runs "$@" per host in parallel with HOST set; fails if any fails
  local pids=() h
  for h in "${NAMES[@]}"; do HOST=$h "$@" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}
base_cold_one() {
  tar -C "$SRC" -cf - . | "${SSH[@]}" "$HOST" \
    'mkdir -p /srv/bench && tar -xf - -C /srv/bench && printf "app = bench\nhost = %s\narch = %s\n" "$(hostname)" "$(uname -m)" > /srv/bench/app.conf && date +%s%N >> /srv/bench/reloads'
}
base_noop_one() { # one round trip that proves nothing changed: compare every file's SHA-256
  "${SSH[@]}" "$HOST" 'cd /srv/bench && sha256sum -c --quiet --strict' < "$WORK/SHA256SUMS" >/dev/null
}
base_change_one() {
  tar -C "$SRC" -cf - d0/f0.conf | "${SSH[@]}" "$HOST" \
    'tar -xf - -C /srv/bench && date +%s%N >> /srv/bench/reloads'
}
timed() { local t0 t1; t0=$(now); "$@"; t1=$(now); echo "$t1 - $t0" | bc -l; }
(cd "$SRC" && find . -type f -name '*.conf' -print0 | xargs -0 sha256sum) > "$WORK/SHA256SUMS"

declare -A R
cold=() noop=() change=() bcold=() bnoop=() bchange=()
for i in $(seq 1 "$RUNS"); do
  reset_hosts
  cold+=("$(ferry_run)")
  noop+=("$(ferry_run)")
  # One file's desired content changes: rewrite it, apply, on every host.
  head -c 768 /dev/urandom | base64 -w 64 > "$SRC/d0/f0.conf"
  change+=("$(ferry_run)")
done
for h in "${NAMES[@]}"; do
  [ "$(wc -l < "$TB/$h/fs/srv/bench/reloads")" = 2 ] \
    || { echo "the handler did not fire exactly once per changing apply on $h" >&2; exit 1; }
done
for i in $(seq 1 "$RUNS"); do
  reset_hosts
  bcold+=("$(timed on_all base_cold_one)")
  (cd "$SRC" && find . -type f -name '*.conf' -print0 | xargs -0 sha256sum) > "$WORK/SHA256SUMS"
  bnoop+=("$(timed on_all base_noop_one)")
  head -c 768 /dev/urandom | base64 -w 64 > "$SRC/d0/f0.conf"
  bchange+=("$(timed on_all base_change_one)")
done

m() { printf '%s\n' "$@" | median; }
R[cold]=$(m "${cold[@]}") R[noop]=$(m "${noop[@]}") R[change]=$(m "${change[@]}")
R[bcold]=$(m "${bcold[@]}") R[bnoop]=$(m "${bnoop[@]}") R[bchange]=$(m "${bchange[@]}")
printf 'ferry deploy benchmark: %s hosts, 10 dirs + 200 files (~1 KiB) + 1 template + 1 handler, median of %s\n' "$N" "$RUNS"
printf '%-16s %10s %14s %8s\n' case ferry "ssh+tar (base)" ratio
for c in cold noop change; do
  printf '%-16s %9.3fs %13.3fs %7.2fx\n' "$c" "${R[$c]}" "${R[b$c]}" "$(echo "${R[$c]} / ${R[b$c]}" | bc -l)"
done
MAXRT=$(sort -n "$WORK/round_trips" | tail -1)
printf 'max round trips per host per apply: %s\n' "$MAXRT"
printf 'targets: no-op < 1 s: %s; cold < 3 s: %s; round trips <= 3: %s\n' \
  "$(echo "${R[noop]} < 1" | bc -l | sed 's/1/met/;s/0/MISSED/')" \
  "$(echo "${R[cold]} < 3" | bc -l | sed 's/1/met/;s/0/MISSED/')" \
  "$([ "$MAXRT" -le 3 ] && echo met || echo MISSED)"
