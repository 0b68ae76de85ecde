# lab/common.sh — helpers shared by lab/lab.sh, lab/s3.sh, lab/registry.sh and lab/bastion.sh
# (sourced, not run). They use the caller's set_dir and its DIE_RC, PACKAGES, POLICY_RC,
# POLICY_CREATED, LEAD_DIR, DIR and CMD.

# One voice for each lab script: log and die print "PREFIX: ..." on stderr, die exits
# DIE_RC, and an unexpected failure under set -e (the ERR trap) is one line naming
# SCRIPT:LINE and the command. Call once, right after sourcing this file.
lab_messages() { # prefix script-name
  LAB_VOICE=$1 LAB_SCRIPT_NAME=$2
  trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
}
log() { printf '%s: %s\n' "$LAB_VOICE" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$LAB_VOICE" "$*" >&2
  exit "$DIE_RC"
}
on_err() {
  local rc=$1 line=$2 cmd=$3
  ((rc == DIE_RC)) || printf '%s: error: unexpected failure (exit %s) at %s:%s: %s\n' "$LAB_VOICE" "$rc" "$LAB_SCRIPT_NAME" "$line" "$cmd" >&2
  exit "$DIE_RC"
}

read_pid() {
  local p=""
  [[ -r $1 ]] || return 1
  read -r p <"$1" || true
  [[ $p =~ ^[1-9][0-9]*$ ]] || return 1
  printf '%s' "$p"
}

# Alive and not a zombie. Read from /proc/PID/stat, not cmdline: during an execve the new
# image's cmdline reads empty for a moment, which looked like an exit (seen once in CI).
pid_alive() { # pid
  local stat=""
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

pid_is() { # pid needle... : alive and its command line contains every needle
  local pid=$1 n CMDLINE=""
  shift
  (($#)) || { pid_alive "$pid"; return; }
  cmdline_of "$pid" || return 1
  for n; do [[ $CMDLINE == *"$n"* ]] || return 1; done
}

# The last lines of log files on one line, for an error message; never fails (a missing log
# must not trip the ERR trap inside the message being built).
log_tail() { # file...
  { tail -qn 3 "$@" 2>/dev/null || true; } | tr '\n' ' '
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || printf '%s\n' "$p"
  done
}

remove_policy_rc() {
  if ((POLICY_CREATED)); then
    rm -f "$POLICY_RC"
    POLICY_CREATED=0
  fi
}

take_lead_dir() {
  case ${1:-} in
  --dir) LEAD_DIR=${2:?--dir needs a value} && return 2 ;;
  --dir=*) LEAD_DIR=${1#*=} && return 1 ;;
  esac
  return 0
}

# Install the packages in PACKAGES that are missing, without letting their maintainer
# scripts start services on the host (policy-rc.d for the duration). $1 names the caller.
install_missing_packages() {
  local caller=$1 note=${2:-}
  ((EUID == 0)) || die "install needs root"
  command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || die "apt-get/dpkg not found: the lab needs Debian (bookworm)"
  local -a missing=()
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "packages present: ${PACKAGES[*]}"
    return 0
  fi
  log "installing: ${missing[*]}${note:+ ($note)}"
  if [[ ! -e $POLICY_RC ]]; then
    printf '#!/bin/sh\n# written by %s install for the duration of apt-get install\nexit 101\n' "$caller" >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
    POLICY_CREATED=1
    trap 'remove_policy_rc' EXIT
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  } </dev/null >&2 || rc=$?
  remove_policy_rc
  ((rc == 0)) || die "apt-get failed (exit $rc) installing: ${missing[*]}"
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
  log "installed: ${PACKAGES[*]}"
}

cmdline_of() { # $1 pid -> CMDLINE (argv joined by spaces); fails if gone or a zombie
  local -a argv=()
  mapfile -d '' -t argv 2>/dev/null <"/proc/$1/cmdline" || return 1
  ((${#argv[@]})) || return 1
  CMDLINE="${argv[*]}"
}

# "[--dir DIR] COMMAND ARGS...": sets CMD and REST (the ARGS); a leading --dir is exported
# as the named variable, where the command's own --dir default looks.
split_command() { # dir_variable args...
  local var=$1 dir
  shift
  CMD=${1:-help}
  (($#)) && shift
  if [[ $CMD == --dir || $CMD == --dir=* ]]; then
    if [[ $CMD == --dir ]]; then
      dir=${1:?--dir needs a value}
      shift
    else dir=${CMD#*=}; fi
    export "$var=$dir"
    CMD=${1:-help}
    (($#)) && shift
  fi
  REST=("$@")
}

parse_dir_only() { # for commands that take only --dir; sets DIR
  local dir_arg=""
  while (($#)); do
    case $1 in
    --dir) dir_arg=${2:?--dir needs a value} && shift 2 ;;
    --dir=*) dir_arg=${1#*=} && shift ;;
    *) die "$CMD: unknown argument: $1" ;;
    esac
  done
  set_dir "$dir_arg"
}

take_lock() { # seconds script: one up/down at a time per DIR
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock -w "$1" 9 || die "another $2 up/down holds $DIR/.lock"
}

# ---------------------------------------------------------------------------------------
# A network namespace of our own, joined to the host by one veth pair that carries a /30:
# HOST_IP on the host side, NS_IP inside, nothing else (no default route, no forwarding), so
# the host and the namespace reach each other and nothing beyond.

netns_names() { # ns-prefix veth-prefix(3 chars) dir: NETNS=<ns-prefix>-<8 hex of md5(dir)>, VETH_HOST, VETH_NS
  local hash
  hash=$(printf '%s' "$3" | md5sum | cut -c1-8)
  NETNS="$1-$hash"
  VETH_HOST="$2${hash}h"
  VETH_NS="$2${hash}n"
}

net_in_use() { # a.b.c.d/30: is any of it on an interface or in a route here?
  [[ -n $(ip -o addr show to "$1" 2>/dev/null) || -n $(ip route show "$1" 2>/dev/null) ]]
}

netns_create() { # netns veth-host veth-ns host-ip ns-ip (a /30)
  local ns=$1 vh=$2 vn=$3 hip=$4 nip=$5
  ip netns add "$ns"
  ip link add "$vh" type veth peer name "$vn"
  ip link set "$vn" netns "$ns"
  ip addr add "$hip/30" dev "$vh"
  ip link set "$vh" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "$nip/30" dev "$vn"
  ip netns exec "$ns" ip link set "$vn" up
}

netns_exists() { ip netns list 2>/dev/null | grep -qw -- "$1"; }

# End whatever still runs in the namespace (ours by construction: TERM, then KILL after 3 s),
# then delete the veth pair and the namespace. Safe when any of them is already gone.
netns_remove() { # netns veth-host
  local ns=$1 vh=$2 pid i
  if netns_exists "$ns"; then
    for ((i = 0; i < 30; i++)); do
      pid=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
      [[ -n ${pid// /} ]] || break
      # shellcheck disable=SC2086
      kill -TERM $pid 2>/dev/null || true
      sleep 0.1
    done
    pid=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    [[ -z ${pid// /} ]] || kill -KILL $pid 2>/dev/null || true
  fi
  if ip link show "$vh" >/dev/null 2>&1; then ip link del "$vh" || true; fi
  if netns_exists "$ns"; then ip netns del "$ns" || true; fi
}
