#!/usr/bin/env bash
# lab/bastion.sh — SSH extras on a running lab (lab/lab.sh) for the bastion and certificate tests.
#
#   up   [--dir DIR]   start them (tears down leftovers first)
#   down [--dir DIR]   stop them and remove the network namespace
#   env  [--dir DIR]   shell-sourceable facts
#   silence bastion|K [--dir DIR]   faults for tests: the bastion, or node K behind it, stops
#                      answering (its packets are dropped inside the namespace: no RST, no ICMP)
#   restore [--dir DIR]  answer again (removes every rule `silence` added)
#
# What `up` builds, for a lab of N nodes on 127.0.X.*:
#  - a network namespace rkeb-<hash of DIR> joined to the host by a veth pair that carries
#    10.254.X.1/30 (host side) and 10.254.X.2/30 (namespace side), and nothing else;
#  - in it, the bastion's sshd on 10.254.X.2:22 (the only thing the host can reach there):
#    its own key in its authorized_keys, and user certificates of the lab CA;
#  - in it too, one sshd per node on 127.0.250.K:22 — the namespace's own loopback, which the
#    host cannot reach — joined into node K's mount namespace, so that it serves node K's
#    /var/run/docker.sock. The lab key is authorized. Only the bastion can reach them.
#  - per node, in the host's network namespace, a certificate-only sshd on <node ip>:2222,
#    also in node K's mount namespace: no authorized keys at all, TrustedUserCAKeys = the lab CA.
# Everything lives under DIR/bastion; processes are stopped by pid file (checked against
# /proc/PID/cmdline), and every process left in the namespace is ours by construction.
# See docs/lab.md.
set -Eeuo pipefail
shopt -s nullglob

readonly SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH="$PATH:$SYS_PATH"
readonly DIE_RC=3
readonly CERT_PORT=2222
readonly INNER_PREFIX=127.0.250
# Needs only what lab/lab.sh install puts in place (openssh-server, iproute2, util-linux).

# shellcheck source=lab/common.sh
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

lab_messages bastion-lab bastion.sh

DIR=""
set_dir() {
  DIR=$(realpath -m -- "${1:-${LAB_DIR:-$(dirname "$(dirname "$(realpath "${BASH_SOURCE[0]}")")")/.lab}}")
  [[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ && $DIR != / ]] || die "--dir $DIR: use a path of letters, digits and ._/+- only"
}

load_lab() { # the lab's nodes and subnet; fails unless the lab is up
  [[ -r $DIR/lab.env ]] || die "no lab in $DIR (run: lab/lab.sh up --dir $DIR)"
  # shellcheck disable=SC1091
  source "$DIR/lab.env"
  [[ ${LAB_STATE:-} == up && ${LAB_NODES:-} =~ ^[0-9]+$ && ${LAB_SUBNET:-} =~ ^127\.([0-9]+)\.([0-9]+)$ ]] ||
    die "the lab in $DIR is not up"
  OCTET=${BASH_REMATCH[2]}
  BD="$DIR/bastion"
  netns_names rkeb rkb "$DIR"
  HOST_SIDE="10.254.$OCTET.1"
  BASTION_IP="10.254.$OCTET.2"
}

node_pid() { # lab node K's process (its mount namespace)
  local nd="$DIR/nodes/node$1" pid
  pid=$(read_pid "$nd/node.pid") || return 1
  pid_is "$pid" "$nd/sshd/sshd_config" || return 1
  printf '%s' "$pid"
}

# A daemon in its own session, clean environment, no inherited descriptors; $! is its pid.
spawn_daemon() { # pidfile logfile command...
  local pidfile=$1 logfile=$2
  shift 2
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec env -i PATH="$SYS_PATH" HOME=/root LANG=C.UTF-8 setsid "$@" </dev/null >>"$logfile" 2>&1
  ) &
  printf '%s\n' "$!" >"$pidfile"
}

sshd_config() { # file listen extra-lines...
  local file=$1 listen=$2
  shift 2
  {
    printf '# written by lab/bastion.sh up\n'
    printf 'ListenAddress %s\n' "$listen"
    printf '%s\n' "$@"
    cat <<'EOF'
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
AllowAgentForwarding no
X11Forwarding no
MaxStartups 100:30:200
MaxSessions 100
LogLevel VERBOSE
EOF
  } >"$file"
}

wait_listening() { # pidfile netns-or-empty address:port what
  local pid i
  pid=$(read_pid "$1")
  for ((i = 0; i < 100; i++)); do
    pid_is "$pid" || die "$4 exited: $(log_tail "$BD/logs/"*.log)"
    if [[ -n $2 ]]; then
      ip netns exec "$2" ss -Htln "src $3" 2>/dev/null | grep -q . && return 0
    else
      ss -Htln "src $3" 2>/dev/null | grep -q . && return 0
    fi
    sleep 0.1
  done
  die "$4 did not listen on $3 within 10s (see $BD/logs)"
}

cmd_up() {
  ((EUID == 0)) || die "up needs root"
  teardown
  local sshd n ip npid
  sshd=$(command -v sshd) || die "sshd not found (run lab/lab.sh install)"
  mkdir -p "$BD/logs"
  chmod 700 "$BD"
  ! net_in_use "10.254.$OCTET.0/30" ||
    die "10.254.$OCTET.0/30 is already in use on this host"
  for ((n = 1; n <= LAB_NODES; n++)); do
    ip="$LAB_SUBNET.$n"
    if ss -Htln "src $ip:$CERT_PORT" | grep -q . || ss -Htln "src 0.0.0.0:$CERT_PORT" | grep -q .; then
      die "$ip:$CERT_PORT is already taken"
    fi
  done

  log "keys: the bastion's host and user keys, the lab's SSH certificate authority"
  ssh-keygen -q -t ed25519 -N '' -C rke-lab-bastion-host -f "$BD/ssh_host_ed25519_key" </dev/null
  ssh-keygen -q -t ed25519 -N '' -C rke-lab-bastion-user -f "$BD/id_ed25519" </dev/null
  ssh-keygen -q -t ed25519 -N '' -C rke-lab-user-ca -f "$BD/ca" </dev/null
  cp "$BD/id_ed25519.pub" "$BD/authorized_keys"
  chmod 600 "$BD/id_ed25519" "$BD/ca" "$BD/authorized_keys"

  log "network namespace $NETNS: veth $VETH_HOST ($HOST_SIDE) <-> $VETH_NS ($BASTION_IP)"
  netns_create "$NETNS" "$VETH_HOST" "$VETH_NS" "$HOST_SIDE" "$BASTION_IP"

  sshd_config "$BD/bastion.conf" "$BASTION_IP:22" "HostKey $BD/ssh_host_ed25519_key" "PidFile $BD/bastion.sshd.pid" \
    "AuthorizedKeysFile $BD/authorized_keys" "TrustedUserCAKeys $BD/ca.pub" "AllowTcpForwarding yes" "AllowStreamLocalForwarding no"
  # /run/sshd (privilege separation) does not exist on a host without sshd: a private /run.
  # shellcheck disable=SC2016
  spawn_daemon "$BD/bastion.launch.pid" "$BD/logs/bastion.log" ip netns exec "$NETNS" unshare -m --propagation private -- /bin/sh -c \
    'mount -t tmpfs -o size=1m,mode=755 rke-bastion-run /run && mkdir -m 755 /run/sshd && exec "$1" -D -f "$2" -E "$3"' \
    rke-bastion "$sshd" "$BD/bastion.conf" "$BD/logs/bastion.log"

  for ((n = 1; n <= LAB_NODES; n++)); do
    ip="$LAB_SUBNET.$n"
    npid=$(node_pid "$n") || die "lab node $n is not running"
    local hostkey="$DIR/nodes/node$n/sshd/ssh_host_ed25519_key"
    sshd_config "$BD/inner$n.conf" "$INNER_PREFIX.$n:22" "HostKey $hostkey" "PidFile $BD/inner$n.sshd.pid" \
      "AuthorizedKeysFile $DIR/ssh/authorized_keys" "AllowStreamLocalForwarding yes" "AllowTcpForwarding yes"
    spawn_daemon "$BD/inner$n.launch.pid" "$BD/logs/inner$n.log" nsenter -t "$npid" -m --net="/run/netns/$NETNS" -- \
      "$sshd" -D -f "$BD/inner$n.conf" -E "$BD/logs/inner$n.log"
    sshd_config "$BD/cert$n.conf" "$ip:$CERT_PORT" "HostKey $hostkey" "PidFile $BD/cert$n.sshd.pid" \
      "AuthorizedKeysFile none" "TrustedUserCAKeys $BD/ca.pub" "AllowStreamLocalForwarding yes" "AllowTcpForwarding yes"
    spawn_daemon "$BD/cert$n.launch.pid" "$BD/logs/cert$n.log" nsenter -t "$npid" -m -- \
      "$sshd" -D -f "$BD/cert$n.conf" -E "$BD/logs/cert$n.log"
  done
  wait_listening "$BD/bastion.launch.pid" "$NETNS" "$BASTION_IP:22" "the bastion's sshd"
  for ((n = 1; n <= LAB_NODES; n++)); do
    wait_listening "$BD/inner$n.launch.pid" "$NETNS" "$INNER_PREFIX.$n:22" "node $n's sshd behind the bastion"
    wait_listening "$BD/cert$n.launch.pid" "" "$LAB_SUBNET.$n:$CERT_PORT" "node $n's certificate-only sshd"
  done
  log "up: bastion $BASTION_IP:22, nodes behind it on $INNER_PREFIX.1-$LAB_NODES:22, certificate-only sshd on port $CERT_PORT"
  cmd_env
}

stop_daemon() { # launch-pidfile config: TERM its sessions and itself, then KILL
  local pid child i CMDLINE
  pid=$(read_pid "$1") || return 0
  pid_is "$pid" "$2" || return 0
  for child in $(children_of "$pid"); do kill -TERM "$child" 2>/dev/null || true; done
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_is "$pid" "$2" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

children_of() { # pids whose parent is $1 (field 4 of /proc/PID/stat, after the command name)
  local stat rest ppid pid
  for stat in /proc/[0-9]*/stat; do
    rest=$(<"$stat") 2>/dev/null || continue
    rest=${rest##*) }
    read -r _ ppid _ <<<"$rest"
    pid=${stat#/proc/}
    [[ $ppid == "$1" ]] && printf '%s\n' "${pid%/stat}"
  done
  return 0
}

teardown() {
  local f conf
  if [[ -d $BD ]]; then
    for f in "$BD"/*.launch.pid; do
      conf="${f%.launch.pid}.conf"
      stop_daemon "$f" "$conf"
    done
  fi
  # Whatever still runs in our namespace (sessions, a crashed run's daemons) is ours.
  netns_remove "$NETNS" "$VETH_HOST"
  rm -rf --one-file-system "$BD"
}

cmd_down() {
  ((EUID == 0)) || die "down needs root"
  if [[ ! -r $DIR/lab.env ]]; then
    log "no lab in $DIR: nothing to stop"
    return 0
  fi
  # shellcheck disable=SC1091
  source "$DIR/lab.env"
  load_lab_quiet
  teardown
  log "down: $NETNS removed"
}

load_lab_quiet() { # like load_lab, for down: the lab may be half gone
  [[ ${LAB_SUBNET:-} =~ ^127\.([0-9]+)\.([0-9]+)$ ]] || die "$DIR/lab.env is damaged"
  OCTET=${BASH_REMATCH[2]}
  BD="$DIR/bastion"
  netns_names rkeb rkb "$DIR"
}

cmd_env() {
  [[ -r $BD/bastion.launch.pid ]] || die "the bastion lab is not up in $DIR (run: lab/bastion.sh up --dir $DIR)"
  local n inner=()
  for ((n = 1; n <= LAB_NODES; n++)); do inner+=("$INNER_PREFIX.$n"); done
  cat <<EOF
BASTION_NETNS=$NETNS
BASTION_ADDRESS=$BASTION_IP
BASTION_PORT=22
BASTION_USER=root
BASTION_KEY=$BD/id_ed25519
BASTION_NODE_ADDRESSES='${inner[*]}'
BASTION_NODE_PORT=22
CERT_CA=$BD/ca
CERT_PORT=$CERT_PORT
BASTION_LOGS=$BD/logs
EOF
}

# Silence drops packets with iptables inside our own namespace only: the host's firewall is
# never touched, and the rules go with the namespace at `down`.
readonly SILENCE_CHAIN=RKE-LAB-SILENCE
ns_iptables() { ip netns exec "$NETNS" iptables -w "$@"; }

cmd_silence() { # bastion | K
  local what=$1
  netns_exists "$NETNS" || die "the bastion lab is not up in $DIR"
  ns_iptables -N "$SILENCE_CHAIN" 2>/dev/null || true
  ns_iptables -C INPUT -j "$SILENCE_CHAIN" 2>/dev/null || ns_iptables -I INPUT -j "$SILENCE_CHAIN"
  if [[ $what == bastion ]]; then
    ns_iptables -A "$SILENCE_CHAIN" -i "$VETH_NS" -j DROP # everything the host sends the bastion
  elif [[ $what =~ ^[0-9]+$ ]] && ((what >= 1 && what <= LAB_NODES)); then
    # both ways between the bastion and node K's sshd
    ns_iptables -A "$SILENCE_CHAIN" -d "$INNER_PREFIX.$what" -p tcp --dport 22 -j DROP
    ns_iptables -A "$SILENCE_CHAIN" -s "$INNER_PREFIX.$what" -p tcp --sport 22 -j DROP
  else
    die "silence: expected bastion or a node number 1..$LAB_NODES, got '$what'"
  fi
  log "silenced $what"
}

cmd_restore() {
  netns_exists "$NETNS" || die "the bastion lab is not up in $DIR"
  ns_iptables -F "$SILENCE_CHAIN" 2>/dev/null || true
  log "restored"
}

main() {
  CMD=${1:-help}
  (($#)) && shift
  local what=""
  if [[ $CMD == silence ]]; then
    what=${1:-}
    (($#)) && shift
  fi
  parse_dir_only "$@"
  case $CMD in
  up) load_lab && cmd_up ;;
  down) cmd_down ;;
  env) load_lab && cmd_env ;;
  silence) load_lab && cmd_silence "$what" ;;
  restore) load_lab && cmd_restore ;;
  *) die "usage: bastion.sh up|down|env|silence bastion|K|restore [--dir DIR]" ;;
  esac
}

main "$@"
