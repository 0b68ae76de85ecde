#!/usr/bin/env bash
# lab/registry.sh — a real private Docker registry for the lab: Debian's docker-registry
# (distribution 2.8) serving HTTPS with a certificate from its own CA and htpasswd (bcrypt)
# authentication. Everything lives under one directory. It runs in a network namespace of its
# own (rker-<hash of DIR>), joined to the host by a veth pair carrying 10.253.X.1/30 (host side)
# and 10.253.X.2/30 (registry side), and listens on 10.253.X.2:PORT (default 10.253.8.2:5000):
# not a loopback address, so the node engines (which treat all of 127.0.0.0/8 as "insecure")
# verify its certificate against /etc/docker/certs.d/10.253.X.2:PORT/ca.crt.
# See docs/lab.md, section "Private registry".
set -Eeuo pipefail
shopt -s nullglob

REGISTRY_SCRIPT=$(realpath "${BASH_SOURCE[0]}")
LAB_SH=$(dirname "$REGISTRY_SCRIPT")/lab.sh
readonly LAB_SH
readonly SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH="$PATH:$SYS_PATH"
readonly PACKAGES=(docker-registry apache2-utils openssl curl)
readonly DIE_RC=3
readonly DEFAULT_ADDR=10.253.8.2:5000
readonly REG_USER=rke-lab

# shellcheck source=lab/common.sh
source "$(dirname "$REGISTRY_SCRIPT")/common.sh"

lab_messages registry-lab registry.sh
trap 'exit 130' INT
trap 'exit 143' TERM

usage() {
  cat <<'EOF'
usage: registry.sh COMMAND [--dir DIR] [ARGS]
  install                 apt-get install docker-registry apache2-utils openssl curl (if missing)
  up [--addr IP:PORT]     start the registry (HTTPS, htpasswd auth) in a network namespace of its
                          own on IP:PORT, IP = 10.253.X.2 (default $REGISTRY_ADDR, else
                          10.253.8.2:5000); new CA, password and empty storage
  down                    stop it, remove its namespace, veth pair and state
  status                  is it running and answering
  env                     shell-sourceable facts (REGISTRY_ADDR, REGISTRY_CA, REGISTRY_USER, ...)
  trust --lab-dir LAB [--node N]
                          make every node engine of the lab in LAB (or node N only) trust the
                          registry's CA (/etc/docker/certs.d/IP:PORT/ca.crt inside the node)
  untrust --lab-dir LAB [--node N]
                          remove that directory again
DIR defaults to $REGISTRY_DIR, else /tmp/rke-registry-lab.
EOF
}

DIR=""
set_dir() {
  local want=${1:-${REGISTRY_DIR:-/tmp/rke-registry-lab}}
  DIR=$(realpath -m -- "$want")
  netns_names rker rkr "$DIR"
  [[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "--dir $want: use a path of letters, digits and ._/+- only"
  [[ $DIR != / ]] || die "--dir /: refusing the root directory"
  local bad
  for bad in /run /var/run /proc /sys /dev /etc /usr /var/lib; do
    if [[ $DIR == "$bad" || $DIR == "$bad"/* ]]; then die "--dir $DIR: must not be under $bad"; fi
  done
}

load_state() {
  [[ -r $DIR/registry.env ]] || die "no registry in $DIR (run: registry.sh up --dir $DIR)"
  # shellcheck disable=SC1091
  source "$DIR/registry.env"
  [[ -n ${REGISTRY_LAB_STATE:-} && -n ${REGISTRY_ADDR:-} && -n ${REGISTRY_HOST_SIDE:-} ]] || die "$DIR/registry.env is damaged; run registry.sh down --dir $DIR"
}

write_state() { # $1 = starting|up
  printf '# written by lab/registry.sh up\nREGISTRY_LAB_STATE=%q\nREGISTRY_ADDR=%q\nREGISTRY_HOST_SIDE=%q\n' \
    "$1" "$ADDR" "$HOST_SIDE" >"$DIR/registry.env.tmp"
  mv -f "$DIR/registry.env.tmp" "$DIR/registry.env"
}

# ---------------------------------------------------------------------------------------
# the one daemon: only ever signal the pid we started, re-checked against /proc

registry_pid() {
  local pid
  pid=$(read_pid "$DIR/registry.pid") || return 1
  pid_is "$pid" docker-registry "$DIR/config.yml" || return 1
  printf '%s' "$pid"
}

# The pid we started is alive, whatever it runs: until it has exec'd, its command line is still
# this script's, so look at its state in /proc/PID/stat instead.
registry_alive() {
  local pid stat=""
  pid=$(read_pid "$DIR/registry.pid") || return 1
  read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

stop_registry() {
  local pid i
  pid=$(registry_pid) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    pid_is "$pid" docker-registry "$DIR/config.yml" || break
    sleep 0.1
  done
  pid_is "$pid" docker-registry "$DIR/config.yml" && kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    [[ -e /proc/$pid ]] || return 0
    # our own child (started by this up): reap it
    { wait "$pid"; } 2>/dev/null || true
    sleep 0.1
  done
  log "warning: docker-registry (pid $pid) did not exit"
}

# Own session, clean environment, stdin /dev/null, no inherited descriptors; in our namespace.
# setsid and ip netns exec both exec, so the pid we record becomes docker-registry's.
spawn_registry() {
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec env -i PATH="$SYS_PATH" HOME=/root LANG=C.UTF-8 setsid ip netns exec "$NETNS" docker-registry serve "$DIR/config.yml" \
      </dev/null >>"$DIR/registry.log" 2>&1
  ) &
  printf '%s\n' "$!" >"$DIR/registry.pid"
  disown "$!"
}

# ---------------------------------------------------------------------------------------
# up: pieces

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_CREATED=0

cmd_install() {
  (($# == 0)) || die "install takes no arguments"
  # policy-rc.d keeps the package's docker-registry.service from starting on the host.
  install_missing_packages lab/registry.sh
}

check_addr() { # IP:PORT with IP = 10.253.X.2; sets IP, PORT, HOST_SIDE (10.253.X.1)
  [[ $ADDR =~ ^(10\.253\.([0-9]{1,3})\.2):([0-9]{1,5})$ ]] || die "--addr $ADDR: expected 10.253.X.2:PORT (X 0-255)"
  IP=${BASH_REMATCH[1]} PORT=${BASH_REMATCH[3]}
  local x=${BASH_REMATCH[2]}
  ((10#$x <= 255 && 10#$PORT >= 1 && 10#$PORT <= 65535)) && [[ $x == "$((10#$x))" ]] || die "--addr $ADDR: expected 10.253.X.2:PORT (X 0-255)"
  HOST_SIDE=10.253.$x.1
  ! net_in_use "10.253.$x.0/30" || die "10.253.$x.0/30 is already in use on this host (another registry lab?)"
}

make_pki() { # DIR/ca.pem (not trusted by the system), DIR/pki/server.pem for IP
  local pki=$DIR/pki
  mkdir -p "$pki"
  (
    umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/O=rke-lab/CN=rke registry lab CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$pki/ca-key.pem" -out "$pki/ca.pem" &&
      openssl req -new -newkey rsa:2048 -nodes -subj "/O=rke-lab/CN=$IP" -keyout "$pki/server-key.pem" -out "$pki/server.csr" &&
      printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
        extendedKeyUsage=serverAuth "subjectAltName=IP:$IP" >"$pki/server.ext" &&
      openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca-key.pem" \
        -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$pki/server.ext" -out "$pki/server.pem"
  ) 2>/dev/null || die "openssl failed making the registry certificates in $pki"
  rm -f "$pki/server.csr" "$pki/server.ext"
  chmod 644 "$pki/ca.pem" "$pki/server.pem"
  cp "$pki/ca.pem" "$DIR/ca.pem"
}

make_credentials() { # a new password every up; bcrypt htpasswd; the password never on a command line
  local password
  password=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32) || true
  ((${#password} == 32)) || die "cannot read /dev/urandom"
  (
    umask 077
    printf 'REGISTRY_USER=%s\nREGISTRY_PASSWORD=%s\n' "$REG_USER" "$password" >"$DIR/credentials.env"
    printf '%s' "$password" | htpasswd -B -C 10 -i -c "$DIR/htpasswd" "$REG_USER" 2>/dev/null
  ) || die "htpasswd failed writing $DIR/htpasswd"
}

write_config() {
  local secret
  secret=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32) || true
  (
    umask 077
    cat >"$DIR/config.yml" <<EOF
# written by lab/registry.sh up
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
  secret: $secret
  tls:
    certificate: $DIR/pki/server.pem
    key: $DIR/pki/server-key.pem
auth:
  htpasswd:
    realm: rke-registry-lab
    path: $DIR/htpasswd
EOF
  )
}

wait_answering() { # /v2/ over TLS with the lab CA: 401 without credentials, 200 with them
  local i code
  for ((i = 0; i < 100; i++)); do
    registry_alive || die "docker-registry exited at start-up; see $DIR/registry.log"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$DIR/ca.pem" "https://$ADDR/v2/" || true)
    [[ $code == 401 ]] && return 0
    sleep 0.1
  done
  die "the registry does not answer on https://$ADDR/v2/ (last HTTP status ${code:-none}); see $DIR/registry.log"
}

registry_is_up() {
  [[ ${REGISTRY_LAB_STATE:-} == up ]] || return 1
  netns_exists "$NETNS" || return 1
  registry_pid >/dev/null || return 1
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$DIR/ca.pem" "https://$REGISTRY_ADDR/v2/" || true) == 401 ]]
}

teardown() { # the daemon by pid, then whatever else runs in the namespace, the veth pair, the namespace
  stop_registry
  netns_remove "$NETNS" "$VETH_HOST"
  [[ -d $DIR ]] || return 0
  rm -rf --one-file-system "$DIR/data" "$DIR/pki"
  rm -f "$DIR/config.yml" "$DIR/htpasswd" "$DIR/credentials.env" "$DIR/ca.pem" "$DIR/registry.pid" \
    "$DIR/registry.env" "$DIR/registry.env.tmp"
}

print_summary() {
  printf 'registry lab up in %s: docker-registry %s on https://%s in netns %s (host side %s; CA %s, user %s)\n' "$DIR" \
    "$(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null)" "$ADDR" "$NETNS" "$HOST_SIDE" "$DIR/ca.pem" "$REG_USER"
  # shellcheck disable=SC2016
  printf 'facts: eval "$(bash %s env --dir %s)"\n' "$REGISTRY_SCRIPT" "$DIR"
}

# ---------------------------------------------------------------------------------------
# commands

UP_DONE=0
up_exit() {
  local rc=$?
  ((UP_DONE)) && return 0
  log "up failed (exit $rc); tearing down (log kept: $DIR/registry.log)"
  teardown || true
}

cmd_up() {
  local dir_arg=""
  ADDR=${REGISTRY_ADDR:-$DEFAULT_ADDR}
  while (($#)); do
    case $1 in
    --dir) dir_arg=${2:?--dir needs a value} && shift 2 ;;
    --dir=*) dir_arg=${1#*=} && shift ;;
    --addr) ADDR=${2:?--addr needs a value} && shift 2 ;;
    --addr=*) ADDR=${1#*=} && shift ;;
    *) die "up: unknown argument: $1" ;;
    esac
  done
  set_dir "$dir_arg"
  ((EUID == 0)) || die "up needs root"
  local -a missing=()
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || cmd_install
  take_lock 30 registry.sh
  if [[ -r $DIR/registry.env ]]; then
    if (
      # shellcheck disable=SC1091
      source "$DIR/registry.env"
      [[ $REGISTRY_ADDR == "$ADDR" ]] && registry_is_up
    ); then
      log "registry already up"
      print_summary
      return 0
    fi
  fi
  if [[ -e $DIR/registry.env || -e $DIR/registry.pid || -e $DIR/config.yml ]] || netns_exists "$NETNS"; then
    log "cleaning up the earlier registry in $DIR"
    teardown
  fi
  check_addr
  mkdir -p "$DIR/data"
  : >"$DIR/registry.log"
  write_state starting
  trap 'up_exit' EXIT
  log "network namespace $NETNS: veth $VETH_HOST ($HOST_SIDE) <-> $VETH_NS ($IP)"
  netns_create "$NETNS" "$VETH_HOST" "$VETH_NS" "$HOST_SIDE" "$IP"
  make_pki
  make_credentials
  write_config
  log "starting docker-registry on https://$ADDR"
  spawn_registry
  wait_answering
  write_state up
  UP_DONE=1
  trap - EXIT
  print_summary
}

cmd_down() {
  parse_dir_only "$@"
  ((EUID == 0)) || die "down needs root"
  if [[ ! -d $DIR ]]; then
    netns_remove "$NETNS" "$VETH_HOST"
    log "nothing to stop: $DIR does not exist"
    return 0
  fi
  take_lock 30 registry.sh
  teardown
  log "registry in $DIR is down"
}

cmd_status() {
  parse_dir_only "$@"
  load_state
  local pid
  if pid=$(registry_pid); then
    printf 'docker-registry  pid %s  https://%s  netns %s\n' "$pid" "$REGISTRY_ADDR" "$NETNS"
  else
    printf 'docker-registry  not running\n'
    return 1
  fi
  registry_is_up || {
    printf 'not answering on https://%s/v2/\n' "$REGISTRY_ADDR"
    return 1
  }
  printf 'answering (401 without credentials, as it should)\n'
}

cmd_env() {
  parse_dir_only "$@"
  load_state
  [[ $REGISTRY_LAB_STATE == up ]] || die "the registry in $DIR is not up (state $REGISTRY_LAB_STATE)"
  # shellcheck disable=SC1091
  source "$DIR/credentials.env"
  printf 'REGISTRY_DIR=%s\nREGISTRY_ADDR=%s\nREGISTRY_HOST_SIDE=%s\nREGISTRY_NETNS=%s\nREGISTRY_CA=%s\nREGISTRY_USER=%s\nREGISTRY_PASSWORD=%s\n' \
    "$DIR" "$REGISTRY_ADDR" "$REGISTRY_HOST_SIDE" "$NETNS" "$DIR/ca.pem" "$REGISTRY_USER" "$REGISTRY_PASSWORD"
}

# The node engines read /etc/docker/certs.d/HOST:PORT/ca.crt on every pull (no restart needed);
# each lab node has its own /etc/docker (lab.sh binds nodes/nodeN/etc-docker there), so write it
# inside each node.
cmd_trust() { # trust|untrust --lab-dir LAB [--node N] [--dir DIR]
  local what=$1 lab_dir="" dir_arg="" only=""
  shift
  while (($#)); do
    case $1 in
    --lab-dir) lab_dir=${2:?--lab-dir needs a value} && shift 2 ;;
    --lab-dir=*) lab_dir=${1#*=} && shift ;;
    --node) only=${2:?--node needs a value} && shift 2 ;;
    --node=*) only=${1#*=} && shift ;;
    --dir) dir_arg=${2:?--dir needs a value} && shift 2 ;;
    --dir=*) dir_arg=${1#*=} && shift ;;
    *) die "$what: unknown argument: $1" ;;
    esac
  done
  [[ -n $lab_dir ]] || die "$what: --lab-dir LAB is required (the node lab's directory)"
  set_dir "$dir_arg"
  load_state
  local lab_env nodes n first last target=/etc/docker/certs.d/$REGISTRY_ADDR
  lab_env=$(bash "$LAB_SH" env --dir "$lab_dir") || die "$what: no node lab is up in $lab_dir"
  nodes=$(sed -n 's/^LAB_NODES=//p' <<<"$lab_env")
  [[ $nodes =~ ^[0-9]+$ ]] || die "$what: cannot read LAB_NODES from lab.sh env --dir $lab_dir"
  first=1 last=$nodes
  if [[ -n $only ]]; then
    [[ $only =~ ^[1-9][0-9]*$ ]] && ((only <= nodes)) || die "$what: --node $only: the lab has nodes 1-$nodes"
    first=$only last=$only
  fi
  for ((n = first; n <= last; n++)); do
    if [[ $what == trust ]]; then
      bash "$LAB_SH" --dir "$lab_dir" exec "$n" -- install -D -m 0644 "$DIR/ca.pem" "$target/ca.crt" ||
        die "trust: cannot write $target/ca.crt on node $n"
    else
      bash "$LAB_SH" --dir "$lab_dir" exec "$n" -- rm -rf "$target" || log "warning: cannot remove $target on node $n"
    fi
  done
  log "$what: $target/ca.crt on node(s) $first-$last of $lab_dir"
}

main() {
  split_command REGISTRY_DIR "$@"
  set -- "${REST[@]}"
  case $CMD in
  install) cmd_install "$@" ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  trust | untrust) cmd_trust "$CMD" "$@" ;;
  help | -h | --help) usage ;;
  *)
    usage >&2
    die "unknown command: $CMD"
    ;;
  esac
}

main "$@"
