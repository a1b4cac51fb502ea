#!/usr/bin/env bash
# Packaging benchmark: `cargo xtask dist` (in-process, parallel) against the plain tools run one
# after another (`tar czf`, `tar cJf`, `zip -9`, `sha256sum`, `minisign -S`), on the same ~20 MiB
# binary: tar.gz + tar.xz (a Linux target) + zip (a Windows target) + SHA256SUMS + per-file
# .sha256 + signatures of the three archives and SHA256SUMS. Prints the median of $RUNS runs.
#
#   bash xtask/benches/package.sh            # RUNS=5 by default
#   BENCH_BINARY=path/to/ferry bash ...      # package a given binary instead of the synthetic one
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-5}"
for t in tar xz gzip zip sha256sum minisign; do
  command -v "$t" >/dev/null || { echo "bench: $t not found; run \`cargo xtask setup\`" >&2; exit 1; }
done
W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The same build `cargo xtask` uses (dev profile; the hot crates are optimised, see .cargo/config.toml).
# XTASK=path skips the build (e.g. while another build holds the target dir's lock).
if [ -z "${XTASK:-}" ]; then cargo build -q -p xtask; fi
X="${XTASK:-$CARGO_TARGET_DIR/debug/xtask}"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"

# A ~20 MiB "binary" made of real machine code (system executables), so it compresses like one.
BIN="$W/ferry"
if [ -n "${BENCH_BINARY:-}" ]; then
  cp "$BENCH_BINARY" "$BIN"
else
  find /usr/bin /usr/lib -type f -size +200k 2>/dev/null | LC_ALL=C sort | head -400 \
    | xargs cat 2>/dev/null | head -c $((20 * 1024 * 1024)) > "$BIN" || true
fi
chmod 755 "$BIN"
SIZE=$(stat -c %s "$BIN")
mkdir -p "$W/pre/$HOST/minimal" "$W/pre/x86_64-pc-windows-gnu/minimal"
cp "$BIN" "$W/pre/$HOST/minimal/ferry"
cp "$BIN" "$W/pre/x86_64-pc-windows-gnu/minimal/ferry.exe"
"$X" keygen --secret-key "$W/key" --public-key "$W/key.pub" 2>/dev/null

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

pipeline() {
  FERRY_MINISIGN_KEY_FILE="$W/key" "$X" dist --prebuilt "$W/pre" --targets "host,x86_64-pc-windows-gnu" \
    --variants minimal --public-key "$W/key.pub" --out-dir "$W/out" --json >/dev/null 2>"$W/pipeline.log" \
    || { cat "$W/pipeline.log" >&2; exit 1; }
}

# The same archive contents, laid out for the plain tools.
L="ferry-$VERSION-linux-minimal"; Wn="ferry-$VERSION-windows-minimal"
mkdir -p "$W/plain/$L" "$W/plain/$Wn"
cp "$BIN" "$W/plain/$L/ferry"; cp "$BIN" "$W/plain/$Wn/ferry.exe"
cp README.md LICENSE "$W/plain/$L/"; cp README.md LICENSE "$W/plain/$Wn/"
plain() {
  local o="$W/plain-out"; rm -rf "$o"; mkdir -p "$o"
  tar czf "$o/$L.tar.gz" -C "$W/plain" "$L"
  tar cJf "$o/$L.tar.xz" -C "$W/plain" "$L"
  (cd "$W/plain" && zip -9 -q -r "$o/$Wn.zip" "$Wn")
  (cd "$o" && sha256sum "$L.tar.gz" "$L.tar.xz" "$Wn.zip" > SHA256SUMS)
  for f in "$L.tar.gz" "$L.tar.xz" "$Wn.zip"; do (cd "$o" && sha256sum "$f" > "$f.sha256"); done
  for f in "$L.tar.gz" "$L.tar.xz" "$Wn.zip" SHA256SUMS; do
    minisign -S -s "$W/key" -m "$o/$f" -t "file:$f" </dev/null >/dev/null
  done
}

: > "$W/p"; : > "$W/t"
for i in $(seq "$RUNS"); do
  s=$(now); pipeline; e=$(now); awk "BEGIN{print $e - $s}" >> "$W/p"
  s=$(now); plain; e=$(now); awk "BEGIN{print $e - $s}" >> "$W/t"
done
P=$(median < "$W/p"); T=$(median < "$W/t")
printf 'binary: %s bytes; %s runs each (median)\n' "$SIZE" "$RUNS"
printf 'cargo xtask dist (prebuilt):   %6.2f s\n' "$P"
printf 'tar czf + tar cJf + zip -9 + sha256sum + minisign -S: %6.2f s\n' "$T"
printf 'ratio xtask/plain tools: %.2f\n' "$(awk "BEGIN{print $P / $T}")"
for f in "$W/out/"*.tar.gz "$W/out/"*.tar.xz "$W/out/"*.zip; do printf '  xtask %-45s %10d bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"; done
for f in "$W/plain-out/"*.tar.gz "$W/plain-out/"*.tar.xz "$W/plain-out/"*.zip; do printf '  plain %-45s %10d bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"; done
