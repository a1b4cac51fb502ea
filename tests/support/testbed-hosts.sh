#!/usr/bin/env bash
# testbed-hosts.sh — throwaway SSH "hosts" on this machine, one per network namespace,
# for Ferry's integration tests (tests/it/support/hosts.rs drives it; it also works by hand).
#
#   testbed-hosts.sh up N DIR     create hosts h1..hN, state/keys/files under DIR
#   testbed-hosts.sh down DIR     stop the sshd PIDs recorded in DIR, delete its namespaces + bridge
#   testbed-hosts.sh status DIR   show each host: namespace, sshd pid, route, tcp/22
#   testbed-hosts.sh config DIR   print the ssh config snippet + inventory again
#   testbed-hosts.sh exec DIR CMD...  run CMD in the controller netns (reaches only the hosts)
#
# Each host hI = network namespace "<name>-hI" with IP <net>.(10+I)/24 on a veth
# attached to a bridge "<name>br0" (<net>.1) in the root namespace, running its
# own /usr/sbin/sshd on port 22 (root login by generated ed25519 key only).
# sshd runs in a private mount (and UTS: hostname hI) namespace where /srv /tmp /var/tmp
# /root are bind mounts of DIR/hI/fs/... so files written on h1 do not land on h2
# (and can be inspected from outside at DIR/hI/fs/srv/...). Everything else
# (/usr, /etc, ...) is the real machine's filesystem, shared: don't write there.
# sshd's own config/host key/log/pid live in /run/testbed-<name>/hI; clients log in
# with DIR/id_ed25519, or any key appended to /run/testbed-<name>/authorized_keys.
#
# Env (read at `up`, saved in DIR/state.env):
#   TESTBED_NAME  prefix for namespaces/links, <= 6 chars   (default: tb)
#   TESTBED_NET   first three octets of the /24, 10.77.x     (default: 10.77.0)
#   TESTBED_PRIVATE_DIRS  space separated per-host private dirs
#                 (default: "/srv /tmp /var/tmp /root")
# Two testbeds side by side need different TESTBED_NAME and TESTBED_NET; `up` refuses
# a /24 that already has a route. Traffic only ever goes to addresses inside namespaces
# this script created; `up` also adds "unreachable 10.77.0.0/16" in the root namespace
# (kept after down) so a stale config fails closed instead of leaving via the default route.
set -euo pipefail

die() { echo "testbed-hosts.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (netns, mounts)"
for t in ip unshare ssh-keygen; do command -v "$t" >/dev/null || die "missing $t"; done
SSHD=/usr/sbin/sshd
SFTP=/usr/lib/openssh/sftp-server

absdir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

load_state() {
  [ -f "$DIR/state.env" ] || die "no testbed state in $DIR"
  # shellcheck disable=SC1091
  . "$DIR/state.env"
}

alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }

host_ip() { echo "$NET.$((10 + $1))"; }

route_ok() { # the route to $1 must leave via our bridge, never the default route
  local r; r=$(ip -o route get "$1" 2>/dev/null || true)
  case "$r" in *" dev $BR "*) return 0 ;; *) return 1 ;; esac
}

print_config() {
  echo "# --- ssh config (also in $DIR/ssh_config; use: ssh -F $DIR/ssh_config h1) ---"
  cat "$DIR/ssh_config"
  echo "# --- inventory (also in $DIR/inventory: name ip) ---"
  cat "$DIR/inventory"
}

cmd_up() {
  local n=$1
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "N must be 1..200"
  NAME=${TESTBED_NAME:-tb}; NET=${TESTBED_NET:-10.77.0}
  PRIV=${TESTBED_PRIVATE_DIRS:-/srv /tmp /var/tmp /root}
  [[ "$NAME" =~ ^[a-z][a-z0-9]{0,5}$ ]] || die "TESTBED_NAME must match [a-z][a-z0-9]{0,5}"
  # Only 10.77.x: the guard route below covers exactly that /16.
  [[ "$NET" =~ ^10\.77\.[0-9]{1,3}$ ]] && [ "${NET##*.}" -le 255 ] || die "TESTBED_NET must be 10.77.x"
  BR="${NAME}br0"
  [ -x "$SSHD" ] || die "missing $SSHD (apt-get install openssh-server)"
  [ ! -f "$DIR/state.env" ] || die "$DIR already holds a testbed; run: $0 down $DIR"
  ip link show "$BR" >/dev/null 2>&1 && die "bridge $BR exists (another testbed with TESTBED_NAME=$NAME?)"
  [ -z "$(ip route show "$NET.0/24" 2>/dev/null)" ] || die "$NET.0/24 is already routed (another testbed with TESTBED_NET=$NET?)"
  local p last=""
  for p in $PRIV; do case "$p" in /*) ;; *) die "private dir $p must be absolute" ;; esac; done

  local t0; t0=$(date +%s%N)
  RUN="/run/testbed-$NAME"   # sshd config/keys live here: never hidden by the private binds
  [ ! -e "$RUN" ] || die "$RUN exists (another testbed with TESTBED_NAME=$NAME?)"
  mkdir -p "$DIR" /run/sshd "$RUN"
  chmod 755 "$DIR"
  { echo "NAME=$NAME"; echo "NET=$NET"; echo "BR=$BR"; echo "N=$n"; echo "RUN=$RUN"; echo "PRIV=\"$PRIV\""; } > "$DIR/state.env"
  : > "$DIR/netns.list"; : > "$DIR/pids.list"
  rm -f "$DIR/id_ed25519" "$DIR/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C "testbed-client" -f "$DIR/id_ed25519"
  cp "$DIR/id_ed25519.pub" "$RUN/authorized_keys"; chmod 600 "$RUN/authorized_keys"

  # fail-closed guard for the whole /16, then the bridge (its /24 is more specific)
  local guard; guard="$(echo "$NET" | cut -d. -f1-2).0.0/16"
  # (testbeds starting side by side may race to add it: either one winning is fine)
  ip route add unreachable "$guard" 2>/dev/null || ip route show type unreachable | grep -q "^unreachable $guard" \
    || die "cannot add the guard route unreachable $guard"
  ip link add "$BR" type bridge
  echo "$BR" > "$DIR/bridge"
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up

  # controller namespace "<name>-ctl" (<net>.2): only the bridge and lo, no default
  # route, so a client run via `testbed-hosts.sh exec DIR cmd` can reach nothing but the hosts
  local cns="$NAME-ctl"
  ip netns add "$cns"; echo "$cns" >> "$DIR/netns.list"
  ip link add "$cns-v" type veth peer name "$cns-p"
  ip link set "$cns-p" netns "$cns"
  ip link set "$cns-v" master "$BR" up
  ip netns exec "$cns" ip link set lo up
  ip netns exec "$cns" ip link set "$cns-p" name eth0
  ip netns exec "$cns" ip addr add "$NET.2/24" dev eth0
  ip netns exec "$cns" ip link set eth0 up

  : > "$DIR/ssh_config"; : > "$DIR/inventory"; : > "$DIR/known_hosts"
  local i
  for i in $(seq 1 "$n"); do
    local h="h$i" ns="$NAME-h$i" ip; ip=$(host_ip "$i")
    local hd="$DIR/$h" rd="$RUN/$h"
    rm -rf "$hd"; mkdir -p "$hd/fs" "$rd"
    ip netns add "$ns"; echo "$ns" >> "$DIR/netns.list"
    ip link add "$ns-v" type veth peer name "$ns-p"
    ip link set "$ns-p" netns "$ns"
    ip link set "$ns-v" master "$BR" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "$ns-p" name eth0
    ip netns exec "$ns" ip addr add "$ip/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$rd/ssh_host_ed25519_key"
    echo "$ip $(cut -d' ' -f1-2 "$rd/ssh_host_ed25519_key.pub")" >> "$DIR/known_hosts"
    cat > "$rd/sshd_config" <<EOF
Port 22
ListenAddress $ip
HostKey $rd/ssh_host_ed25519_key
PidFile $rd/sshd.pid
AuthorizedKeysFile $RUN/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxStartups 200:30:400
MaxSessions 200
AcceptEnv LANG LC_*
Subsystem sftp $SFTP
LogLevel ERROR
EOF
    # per-host private dirs, bind-mounted in sshd's own mount namespace
    # (the private dir that contains DIR, if any, is mounted last so the other
    # bind sources under DIR still resolve to the real files)
    local binds="" last="" src
    for p in $PRIV; do
      src="$hd/fs${p}"; mkdir -p "$src" "$p"
      case "$p" in /tmp|/var/tmp) chmod 1777 "$src" ;; /root) chmod 700 "$src" ;; *) chmod 755 "$src" ;; esac
      case "$DIR/" in "$p"/*) last="mount --bind '$src' '$p';"; continue ;; esac
      binds="$binds mount --bind '$src' '$p';"
    done
    binds="$binds $last"
    rm -f "$rd/sshd.pid"
    ip netns exec "$ns" unshare --mount --uts --propagation private -- \
      sh -c "set -e; hostname '$h'; $binds exec $SSHD -f '$rd/sshd_config' -E '$rd/sshd.log'" </dev/null >/dev/null 2>&1 \
      || die "sshd for $h failed to start (see $rd/sshd.log)"
    local k pid=""
    for k in $(seq 1 100); do  # sshd daemonizes; wait (<=10s) for its pid file
      [ -s "$rd/sshd.pid" ] && pid=$(cat "$rd/sshd.pid") && break
      sleep 0.1
    done
    [ -n "$pid" ] || die "no pid file for $h"
    echo "$pid $h $ns" >> "$DIR/pids.list"
    route_ok "$ip" || die "route to $ip does not go via $BR; refusing"
    echo "$h $ip" >> "$DIR/inventory"
    cat >> "$DIR/ssh_config" <<EOF
Host $h
  HostName $ip
  Port 22
  User root
  IdentityFile $DIR/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile $DIR/known_hosts
  LogLevel ERROR

EOF
  done
  # wait (<=10s per host) until every sshd answers on tcp/22
  while read -r h ip; do
    for k in $(seq 1 100); do
      timeout 1 bash -c "exec 3<>/dev/tcp/$ip/22" 2>/dev/null && break
      [ "$k" = 100 ] && die "$h ($ip) not listening"
      sleep 0.1
    done
  done < "$DIR/inventory"
  local t1; t1=$(date +%s%N)
  print_config
  echo "# up $n hosts in $(( (t1 - t0) / 1000000 )) ms"
}

cmd_down() {
  load_state
  if [ -f "$DIR/pids.list" ]; then
    local pid h ns k killed=""
    while read -r pid h ns; do
      # only kill if the pid is still the sshd we started with this config
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$RUN/$h/sshd_config"; then
        kill "$pid" 2>/dev/null || true; killed="$killed $pid"
      fi
    done < "$DIR/pids.list"
    for pid in $killed; do   # wait <=5s each; a zombie (state Z) counts as gone
      for k in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -9 "$pid" 2>/dev/null || true
    done
  fi
  if [ -f "$DIR/netns.list" ]; then
    local left
    while read -r ns; do
      # sessions still open (sshd children) or commands from `exec` keep the
      # namespace (and its veth) alive after the delete: not killed, only reported
      left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
      [ -z "$left" ] || echo "down: warning: PIDs still in $ns (kill them to free it): $left" >&2
      ip netns del "$ns" 2>/dev/null || true   # normally also deletes its veth pair
      ip link del "$ns-v" 2>/dev/null || true  # ...but not while the netns lingers
    done < "$DIR/netns.list"
  fi
  if [ -f "$DIR/bridge" ]; then ip link del "$(cat "$DIR/bridge")" 2>/dev/null || true; fi
  case "${RUN:-}" in /run/testbed-*) rm -rf "$RUN" ;; esac
  rm -f "$DIR/state.env" "$DIR/pids.list" "$DIR/netns.list" "$DIR/bridge"
  echo "down: $DIR (host files kept under $DIR/h*/fs; unreachable guard route kept)"
}

cmd_status() {
  load_state
  local bad=0 pid h ns ip st
  while read -r pid h ns; do
    ip=$(awk -v h="$h" '$1==h{print $2}' "$DIR/inventory")
    st="ok"
    ip netns list | grep -qw "^$ns" || { st="no-netns"; }
    alive "$pid" || st="$st,sshd-dead"
    if route_ok "$ip"; then
      timeout 1 bash -c "exec 3<>/dev/tcp/$ip/22" 2>/dev/null || st="$st,port-closed"
    else st="$st,bad-route"; fi
    [ "$st" = ok ] || bad=1
    printf '%-5s %-15s netns=%-10s sshd_pid=%-8s %s\n' "$h" "$ip" "$ns" "$pid" "$st"
  done < "$DIR/pids.list"
  return $bad
}

cmd_exec() { # run a command in the controller namespace (no route but to the hosts)
  load_state
  ip netns list | grep -qw "^$NAME-ctl" || die "no controller namespace $NAME-ctl"
  exec ip netns exec "$NAME-ctl" "$@"
}

[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
case "$1" in
  up)     [ $# -eq 3 ] || die "usage: up N DIR"; DIR=$(absdir "$3"); cmd_up "$2" ;;
  down)   [ $# -eq 2 ] || die "usage: down DIR"; DIR=$(absdir "$2"); cmd_down ;;
  status) [ $# -eq 2 ] || die "usage: status DIR"; DIR=$(absdir "$2"); cmd_status ;;
  config) [ $# -eq 2 ] || die "usage: config DIR"; DIR=$(absdir "$2"); load_state; print_config ;;
  exec)   [ $# -ge 3 ] || die "usage: exec DIR CMD [ARGS...]"; DIR=$(absdir "$2"); shift 2; cmd_exec "$@" ;;
  *) die "unknown command $1 (up|down|status|config|exec)" ;;
esac
