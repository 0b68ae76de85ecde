#!/usr/bin/env bash
# lab/lab.sh — RKE-shaped etcd nodes on one machine, for tests and demos.
#
# Each node = its own sshd in a private mount namespace (own /opt/rke, /etc/kubernetes,
# /var/run) + its own dockerd joined into that namespace + an `etcd` container, all on
# 127.x.y.N. See docs/lab.md for the layout and the commands.
set -Eeuo pipefail
shopt -s nullglob

LAB_SCRIPT=$(realpath "${BASH_SOURCE[0]}")
REPO_DIR=$(dirname "$(dirname "$LAB_SCRIPT")")
readonly SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH="$PATH:$SYS_PATH"
readonly PACKAGES=(etcd-server etcd-client openssh-server openssh-client docker.io openssl unzip iproute2 util-linux ca-certificates python3)
readonly HOST_TARGETS=(/opt/rke /etc/kubernetes /etc/docker /opt/containerd) # created on the host when missing (bind targets)
readonly SSL=/etc/kubernetes/ssl                  # inside nodes and containers
readonly DIE_RC=3

# Defaults of `up`.
DEFAULT_NODES=3
DEFAULT_SUBNET=127.0.2
DEFAULT_K8S=v1.26.15-rancher1-1

# ---------------------------------------------------------------------------------------
# messages and errors

# shellcheck source=lab/common.sh
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

lab_messages lab lab.sh
trap 'exit 130' INT
trap 'exit 143' TERM

usage() {
  cat <<'EOF'
usage: lab.sh COMMAND [OPTIONS]
  install                          apt-get install the Debian packages the lab needs (if missing)
  up [--nodes N] [--subnet 127.X.Y] [--dir DIR] [--kubernetes-version V] [--etcd-arg ARG]...
                                   build the lab and wait until etcd is healthy
  down [--dir DIR] [--purge]       stop and remove everything `up` started (--purge: also the image cache)
  status [--dir DIR]               per node: sshd, dockerd, etcd container; etcd health
  env [--dir DIR]                  shell-sourceable facts (LAB_DIR, LAB_ADDRESSES, LAB_CLUSTER_YML, ...)
  docker [--dir DIR] N ARGS...     docker CLI against node N's engine
  exec [--dir DIR] N -- CMD...     run CMD in node N's mount namespace
  ssh [--dir DIR] N [CMD...]       ssh to node N as root with the lab key
  etcdctl [--dir DIR] ARGS...      etcdctl (v3) against all members, TLS with the kube-node cert
  dockerd-stop [--dir DIR] N       faults for tests: stop node N's dockerd (its etcd container dies)
  dockerd-kill [--dir DIR] N       SIGKILL node N's dockerd alone: containerd and its shims keep the
                                   containers (etcd, a running snapshot agent) going, as when dockerd crashes
  dockerd-start [--dir DIR] N      start it again (after a kill: the orphaned containers are killed
                                   through containerd first), then the etcd container
  ssh-drop [--dir DIR] N           cut every SSH session to node N (sshd keeps listening)
DIR defaults to $LAB_DIR, else <repo>/.lab.
EOF
}

# ---------------------------------------------------------------------------------------
# the lab directory and its state

DIR=""
set_dir() { # resolve and validate the lab directory
  local want=${1:-${LAB_DIR:-$REPO_DIR/.lab}}
  DIR=$(realpath -m -- "$want")
  [[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "--dir $want: use an absolute-able path of letters, digits and ._/+- only"
  [[ $DIR != / ]] || die "--dir /: refusing the root directory"
  local bad
  for bad in /run /var/run /proc /sys /dev /opt/rke /etc/kubernetes /etc/docker /opt/containerd; do
    [[ $DIR == "$bad" || $DIR == "$bad"/* ]] && die "--dir $DIR: must not be under $bad (nodes bind their own $bad or it is special)"
  done
  # unix socket paths are limited to 107 bytes; the longest is containerd's ttrpc socket
  local longest="$DIR/nodes/node99/docker-exec/containerd/containerd.sock.ttrpc"
  ((${#longest} <= 107)) || die "--dir $DIR: path too long for docker's unix sockets (keep it under $((107 - ${#longest} + ${#DIR})) characters)"
  return 0
}

node_dir() { printf '%s/nodes/node%s' "$DIR" "$1"; }
node_ip() { printf '%s.%s' "$LAB_SUBNET" "$1"; }
# A second address on which only sshd listens (like a node's public address, where etcd is
# not), for tests of `internal_address`; and a second SSH port, for tests of `port`.
node_ssh_only_ip() { printf '%s.%s' "$LAB_SUBNET" "$((100 + $1))"; }
readonly ALT_SSH_PORT=2200
dashes() { printf '%s' "${1//./-}"; }
node_socket() { printf '%s/run/docker.sock' "$(node_dir "$1")"; }
endpoints() {
  local n out=()
  for ((n = 1; n <= LAB_NODES; n++)); do out+=("https://$(node_ip "$n"):2379"); done
  local IFS=,
  printf '%s' "${out[*]}"
}

load_state() { # reads DIR/lab.env (written by up); fails unless a lab was built there
  [[ -r $DIR/lab.env ]] || die "no lab in $DIR (run: lab.sh up --dir $DIR)"
  # shellcheck disable=SC1091
  source "$DIR/lab.env"
  [[ ${LAB_NODES:-} =~ ^[0-9]+$ && -n ${LAB_SUBNET:-} ]] || die "$DIR/lab.env is damaged; run lab.sh down --dir $DIR"
}

write_state() { # $1 = starting|up
  local tmp="$DIR/lab.env.tmp"
  {
    printf '# written by lab/lab.sh up; read by the other lab.sh commands\n'
    printf 'LAB_STATE=%q\n' "$1"
    printf 'LAB_NODES=%q\n' "$LAB_NODES"
    printf 'LAB_SUBNET=%q\n' "$LAB_SUBNET"
    printf 'LAB_K8S_VERSION=%q\n' "$LAB_K8S_VERSION"
    printf 'LAB_ETCD_IMAGE=%q\n' "$LAB_ETCD_IMAGE"
    printf 'LAB_ETCD_ARGS=('
    local a
    for a in "${LAB_ETCD_ARGS[@]}"; do printf ' %q' "$a"; done
    printf ' )\n'
  } >"$tmp"
  mv -f "$tmp" "$DIR/lab.env"
}

# ---------------------------------------------------------------------------------------
# processes: only ever signal what we started (pid files, verified against /proc)

stop_pid() { # pid seconds needle... : TERM, wait, then KILL; only if it still matches
  local pid=$1 secs=$2 i
  shift 2
  pid_is "$pid" "$@" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    pid_is "$pid" "$@" || return 0
    sleep 0.1
  done
  pid_is "$pid" "$@" && kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    pid_is "$pid" "$@" || return 0
    sleep 0.1
  done
  log "warning: pid $pid did not exit"
}

node_pid() { # the node process (unshare -> sh -> sshd), if alive and ours
  local nd pid
  nd=$(node_dir "$1")
  pid=$(read_pid "$nd/node.pid") || return 1
  pid_is "$pid" "$nd/sshd/sshd_config" || return 1
  printf '%s' "$pid"
}

dockerd_pid() {
  local nd pid f
  nd=$(node_dir "$1")
  for f in "$nd/dockerd.pid" "$nd/dockerd.launch.pid"; do
    pid=$(read_pid "$f") || continue
    pid_is "$pid" dockerd "$nd/docker-data" || continue
    printf '%s' "$pid"
    return 0
  done
  return 1
}

# Every process left over from the lab in DIR, identified by what only ours can have:
#  - a daemon (sshd, unshare, nsenter, dockerd, containerd, shim; the node's sh before it execs
#    sshd) whose command line names a node directory;
#  - a member of the cgroup of a container of a node engine (id from the node's docker-data);
#  - a process that sees a node's own directory as its /opt/rke, /etc/kubernetes or /run
#    (i.e. lives in a node's mount namespace, or in a container binding them).
lab_pids() {
  local nd c pid p argv0 cg
  local -a nds=() ids=()
  local CMDLINE
  for nd in "$DIR"/nodes/node*; do
    nds+=("$nd")
    for c in "$nd"/docker-data/containers/*/; do
      c=${c%/}
      ids+=("${c##*/}")
    done
  done
  ((${#nds[@]})) || return 0
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
    cmdline_of "$pid" || continue
    argv0=${CMDLINE%% *}
    argv0=${argv0##*/}
    for nd in "${nds[@]}"; do
      case $argv0 in
      sshd | unshare | nsenter | sh | dockerd | containerd | containerd-shim*)
        if [[ $CMDLINE == *"$nd/"* && ($argv0 != sh || $CMDLINE == *" lab-node"*) ]]; then
          printf '%s\n' "$pid"
          continue 2
        fi
        ;;
      esac
      if [[ $p/root/opt/rke -ef $nd/opt-rke || $p/root/etc/kubernetes -ef $nd/etc-kubernetes || $p/root/run -ef $nd/run ]]; then
        printf '%s\n' "$pid"
        continue 2
      fi
    done
    if ((${#ids[@]})); then
      cg=""
      read -r -d '' cg <"$p/cgroup" 2>/dev/null || true
      for c in "${ids[@]}"; do
        if [[ $cg == *"$c"* ]]; then
          printf '%s\n' "$pid"
          continue 2
        fi
      done
    fi
  done
}

# ---------------------------------------------------------------------------------------
# install

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_CREATED=0

cmd_install() {
  (($# == 0)) || die "install takes no arguments"
  install_missing_packages lab/lab.sh # keeps the packages from starting a host-wide dockerd/sshd/etcd
  if [[ -S /run/docker.sock ]]; then
    log "warning: a host-wide dockerd is listening on /run/docker.sock (not started by the lab)"
  fi
}

# ---------------------------------------------------------------------------------------
# up: pieces

check_port_free() { # ip port; reads `listening` of the caller
  local l
  for l in "${listening[@]}"; do
    case $l in
    "$1:$2" | "0.0.0.0:$2" | "*:$2" | "[::]:$2")
      die "$1:$2 is already taken (listener $l); is another lab or a host-wide sshd/etcd running?"
      ;;
    esac
  done
}

check_addresses_free() {
  local n ip port
  local -a listening=()
  mapfile -t listening < <(ss -Htln 2>/dev/null | awk '{print $4}')
  for ((n = 1; n <= LAB_NODES; n++)); do
    ip=$(node_ip "$n")
    [[ $(ip -o route get "$ip" 2>/dev/null) == local* ]] || die "$ip is not a local address here (needs the loopback route 127.0.0.0/8 dev lo)"
    for port in 22 $ALT_SSH_PORT 2379 2380; do check_port_free "$ip" "$port"; done
    check_port_free "$(node_ssh_only_ip "$n")" 22
  done
}

# Bind targets must exist on the host. One we create gets a marker file (hidden inside the
# nodes by their bind mounts), so that whichever lab goes down last removes it again.
readonly TARGET_MARK=.rke-lab-created
make_host_targets() {
  local t
  for t in "${HOST_TARGETS[@]}"; do
    if [[ ! -d $t ]]; then
      mkdir -p "$t"
      : >"$t/$TARGET_MARK"
    fi
  done
}

remove_host_targets() { # only ours (marker), only when no mount namespace mounts on it, only if empty
  local t f
  for t in "${HOST_TARGETS[@]}"; do
    [[ -f $t/$TARGET_MARK ]] || continue
    if grep -qsF -- " $t " /proc/[0-9]*/mountinfo; then continue; fi
    for f in "$t"/* "$t"/.[!.]*; do [[ $f == "$t/$TARGET_MARK" ]] || continue 2; done
    rm -f -- "$t/$TARGET_MARK"
    rmdir -- "$t" 2>/dev/null || true
  done
}

openssl_leaf() { # name cn org ext...  -> pki/NAME.pem, pki/NAME-key.pem signed by kube-ca
  local name=$1 cn=$2 org=$3 pki="$DIR/pki"
  shift 3
  local subj="/CN=$cn"
  [[ -z $org ]] || subj="/O=$org/CN=$cn"
  openssl req -new -newkey rsa:2048 -nodes -subj "$subj" \
    -keyout "$pki/$name-key.pem" -out "$pki/$name.csr" 2>/dev/null || return 1
  printf '%s\n' "$@" >"$pki/$name.ext" || return 1
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/kube-ca.pem" -CAkey "$pki/kube-ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$pki/$name.ext" \
    -out "$pki/$name.pem" 2>/dev/null || return 1
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
  local pki="$DIR/pki" n ip d
  mkdir -p "$pki"
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 -subj /CN=kube-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature \
    -keyout "$pki/kube-ca-key.pem" -out "$pki/kube-ca.pem" 2>/dev/null
  local -a jobs=()
  for ((n = 1; n <= LAB_NODES; n++)); do
    ip=$(node_ip "$n")
    d=$(dashes "$ip")
    (openssl_leaf "kube-etcd-$d" kube-etcd "" basicConstraints=critical,CA:FALSE \
      keyUsage=critical,digitalSignature,keyEncipherment extendedKeyUsage=serverAuth,clientAuth \
      "subjectAltName=IP:$ip,IP:127.0.0.1,DNS:localhost" || exit 1) &
    jobs+=($!)
  done
  (openssl_leaf kube-node system:node system:nodes basicConstraints=critical,CA:FALSE \
    keyUsage=critical,digitalSignature,keyEncipherment extendedKeyUsage=clientAuth || exit 1) &
  jobs+=($!)
  local j
  for j in "${jobs[@]}"; do wait "$j" || die "openssl failed making the lab certificates in $pki"; done
  chmod 600 "$pki"/*-key.pem
  chmod 644 "$pki"/kube-ca.pem "$pki"/kube-etcd-*[0-9].pem "$pki"/kube-node.pem
}

make_ssh_key() {
  mkdir -p "$DIR/ssh"
  chmod 700 "$DIR/ssh"
  ssh-keygen -q -t ed25519 -N '' -C "rke-lab@$(hostname 2>/dev/null || echo host)" -f "$DIR/ssh/id_ed25519" </dev/null
  cp "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"
  chmod 600 "$DIR/ssh/id_ed25519" "$DIR/ssh/authorized_keys"
}

etcd_version() { etcd --version 2>/dev/null | awk '/^etcd Version:/ {print $3; exit}'; }

build_etcd_rootfs() { # once per DIR (cached): Debian's etcd + etcdctl + the libs ldd lists
  local tar=$1 etcd etcdctl root lib
  etcd=$(command -v etcd) etcdctl=$(command -v etcdctl)
  if [[ -s $tar && $tar -nt $etcd && $tar -nt $etcdctl ]]; then return 0; fi
  log "building the etcd image rootfs (cached in $tar)"
  mkdir -p "$DIR/cache"
  root=$(mktemp -d "$DIR/cache/rootfs.XXXXXX")
  mkdir -p "$root"/usr/local/bin "$root"/usr/bin "$root"/etc "$root"/tmp "$root"/var/lib/rancher/etcd "$root"/root
  chmod 1777 "$root/tmp"
  cp -L "$etcd" "$root/usr/local/bin/etcd"
  cp -L "$etcdctl" "$root/usr/local/bin/etcdctl"
  ln -s ../local/bin/etcd "$root/usr/bin/etcd"
  ln -s ../local/bin/etcdctl "$root/usr/bin/etcdctl"
  while read -r lib; do
    [[ -n $lib ]] || continue
    cp -L --parents "$lib" "$root"
  done < <(ldd "$etcd" "$etcdctl" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && NF > 1 {print $1}' | sort -u)
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$root.tar" .
  mv -f "$root.tar" "$tar"
  rm -rf --one-file-system "$root"
}

write_sshd_config() {
  local n=$1 nd ip
  nd=$(node_dir "$n")
  ip=$(node_ip "$n")
  ssh-keygen -q -t ed25519 -N '' -C "rke-lab-node$n" -f "$nd/sshd/ssh_host_ed25519_key" </dev/null
  cat >"$nd/sshd/sshd_config" <<EOF
# lab node $n ($ip); written by lab/lab.sh up
ListenAddress $ip:22
ListenAddress $ip:$ALT_SSH_PORT
ListenAddress $(node_ssh_only_ip "$n"):22
HostKey $nd/sshd/ssh_host_ed25519_key
PidFile $nd/sshd/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $DIR/ssh/authorized_keys
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
}

prepare_node() { # directories, certificates as RKE deploys them, sshd config, docker config
  local n=$1 nd
  nd=$(node_dir "$n")
  mkdir -p "$nd"/{opt-rke/etcd-snapshots,etc-kubernetes/ssl,etc-docker,opt-containerd,run/sshd,docker-data,docker-exec,etcd-data,sshd,logs}
  chmod 700 "$nd/etcd-data"
  chmod 755 "$nd/run/sshd"
  cp -p "$DIR/pki/kube-ca.pem" "$DIR/pki"/kube-etcd-* "$DIR/pki/kube-node.pem" "$DIR/pki/kube-node-key.pem" \
    "$nd/etc-kubernetes/ssl/"
  write_sshd_config "$n"
  printf '{}\n' >"$nd/docker-daemon.json"
}

# The node process: a private mount namespace with the node's own /opt/rke, /etc/kubernetes and
# /var/run (and /etc/docker, /opt/containerd, where dockerd and containerd would otherwise write
# host-wide files), then sshd in the foreground. Stops at the first failed mount (a failed bind would
# silently leave the node on the host's directories).
# shellcheck disable=SC2016
readonly NODE_SH='set -e
nd=$1 sshd=$2
mount --bind "$nd/opt-rke" /opt/rke
mount --bind "$nd/etc-kubernetes" /etc/kubernetes
mount --bind "$nd/etc-docker" /etc/docker
mount --bind "$nd/opt-containerd" /opt/containerd
mount --bind "$nd/run" /var/run
exec "$sshd" -D -f "$nd/sshd/sshd_config" -E "$nd/logs/sshd.log"'

# A long-lived daemon: own session, clean environment, stdin /dev/null, output to a log file and
# no other inherited descriptor (a caller's pipe would keep test runners waiting; our lock fd
# would keep DIR locked). The subshell execs, so $! is the daemon's pid. Sets SPAWNED_PID.
spawn_daemon() { # logfile command...
  local logfile=$1
  shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec env -i PATH="$SYS_PATH" HOME=/root LANG=C.UTF-8 setsid "$@" </dev/null >>"$logfile" 2>&1
  ) &
  SPAWNED_PID=$!
}

start_node() {
  local n=$1 nd sshd
  nd=$(node_dir "$n")
  sshd=$(command -v sshd) || die "sshd not found (run lab.sh install)"
  spawn_daemon "$nd/logs/node.log" unshare -m --propagation private -- /bin/sh -c "$NODE_SH" "lab-node$n" "$nd" "$sshd"
  printf '%s\n' "$SPAWNED_PID" >"$nd/node.pid"
}

wait_node() { # sshd listening and the bind mounts really in place
  local n=$1 nd ip pid i
  nd=$(node_dir "$n")
  ip=$(node_ip "$n")
  pid=$(read_pid "$nd/node.pid")
  for ((i = 0; i < 150; i++)); do
    abandoned && exit 1
    if ! pid_is "$pid"; then
      die "node $n ($ip): node process exited: $(log_tail "$nd/logs/node.log" "$nd/logs/sshd.log")"
    fi
    if pid_is "$pid" "$nd/sshd/sshd_config" && ss -Htln "src $ip:22" 2>/dev/null | grep -q .; then
      [[ /proc/$pid/root/opt/rke -ef $nd/opt-rke && /proc/$pid/root/etc/kubernetes -ef $nd/etc-kubernetes &&
        /proc/$pid/root/run -ef $nd/run ]] || die "node $n ($ip): bind mounts are not in place in its namespace"
      return 0
    fi
    sleep 0.1
  done
  die "node $n ($ip): sshd did not listen on $ip:22 within 15s (see $nd/logs/sshd.log)"
}

start_dockerd() {
  local n=$1 nd npid
  nd=$(node_dir "$n")
  npid=$(node_pid "$n") || die "node $n: node process is not running"
  spawn_daemon "$nd/logs/dockerd.log" nsenter -t "$npid" -m -- dockerd \
    --config-file "$nd/docker-daemon.json" \
    --data-root "$nd/docker-data" --exec-root "$nd/docker-exec" --pidfile "$nd/dockerd.pid" \
    -H unix:///var/run/docker.sock \
    --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
    --userland-proxy=false
  printf '%s\n' "$SPAWNED_PID" >"$nd/dockerd.launch.pid"
}

ndocker() { # node docker: n args...
  local n=$1
  shift
  docker -H "unix://$(node_socket "$n")" "$@"
}

wait_dockerd() {
  local n=$1 nd pid i
  nd=$(node_dir "$n")
  pid=$(read_pid "$nd/dockerd.launch.pid")
  for ((i = 0; i < 600; i++)); do
    abandoned && exit 1
    pid_is "$pid" || die "node $n: dockerd exited: $(log_tail "$nd/logs/dockerd.log")"
    if [[ -S $(node_socket "$n") ]] && timeout 5 docker -H "unix://$(node_socket "$n")" version >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "node $n: dockerd did not answer on $(node_socket "$n") within 60s (see $nd/logs/dockerd.log)"
}

import_image() {
  local n=$1 tar=$2 out
  out=$(timeout 120 docker -H "unix://$(node_socket "$n")" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL org.opencontainers.image.title=rke-lab-etcd' \
    "$tar" "$LAB_ETCD_IMAGE" 2>&1) || die "node $n: docker import of $tar failed: ${out//$'\n'/ }"
}

run_etcd() { # the `etcd` container, with RKE's command line
  local n=$1 nd ip d m initial="" out
  nd=$(node_dir "$n")
  ip=$(node_ip "$n")
  d=$(dashes "$ip")
  for ((m = 1; m <= LAB_NODES; m++)); do
    initial+="${initial:+,}etcd-$(dashes "$(node_ip "$m")")=https://$(node_ip "$m"):2380"
  done
  out=$(timeout 60 docker -H "unix://$(node_socket "$n")" run -d --name etcd --network host --restart no \
    -v /etc/kubernetes:/etc/kubernetes:z -v "$nd/etcd-data:/var/lib/rancher/etcd:z" \
    -e ETCDCTL_API=3 -e "ETCDCTL_ENDPOINTS=https://$ip:2379" -e "ETCDCTL_CACERT=$SSL/kube-ca.pem" \
    -e "ETCDCTL_CERT=$SSL/kube-etcd-$d.pem" -e "ETCDCTL_KEY=$SSL/kube-etcd-$d-key.pem" \
    "$LAB_ETCD_IMAGE" /usr/local/bin/etcd \
    "--name=etcd-$d" --data-dir=/var/lib/rancher/etcd/ \
    "--listen-client-urls=https://$ip:2379" "--advertise-client-urls=https://$ip:2379" \
    "--listen-peer-urls=https://$ip:2380" "--initial-advertise-peer-urls=https://$ip:2380" \
    "--initial-cluster=$initial" --initial-cluster-state=new --initial-cluster-token=etcd-cluster-1 \
    --client-cert-auth "--trusted-ca-file=$SSL/kube-ca.pem" \
    "--cert-file=$SSL/kube-etcd-$d.pem" "--key-file=$SSL/kube-etcd-$d-key.pem" \
    --peer-client-cert-auth "--peer-trusted-ca-file=$SSL/kube-ca.pem" \
    "--peer-cert-file=$SSL/kube-etcd-$d.pem" "--peer-key-file=$SSL/kube-etcd-$d-key.pem" \
    --heartbeat-interval=500 --election-timeout=5000 \
    "${LAB_ETCD_ARGS[@]}" 2>&1) || die "node $n: docker run etcd failed: ${out//$'\n'/ }"
}

lab_etcdctl() { # etcdctl against every member with the kube-node client cert
  env -u ETCDCTL_ENDPOINTS -u ETCDCTL_CACERT -u ETCDCTL_CERT -u ETCDCTL_KEY -u ETCDCTL_INSECURE_SKIP_TLS_VERIFY \
    ETCDCTL_API=3 etcdctl --endpoints="$(endpoints)" --cacert="$DIR/pki/kube-ca.pem" \
    --cert="$DIR/pki/kube-node.pem" --key="$DIR/pki/kube-node-key.pem" --dial-timeout=3s "$@"
}

etcd_healthy() { lab_etcdctl --command-timeout=5s endpoint health >/dev/null 2>&1; }

wait_healthy() {
  local deadline=$((SECONDS + 90)) n state
  while ((SECONDS < deadline)); do
    etcd_healthy && return 0
    for ((n = 1; n <= LAB_NODES; n++)); do
      state=$(timeout 5 docker -H "unix://$(node_socket "$n")" inspect -f '{{.State.Status}}' etcd 2>/dev/null || echo unknown)
      if [[ $state == exited || $state == dead ]]; then
        die "node $n: etcd container $state: $(ndocker "$n" logs --tail 3 etcd 2>&1 | tr '\n' ' ')"
      fi
    done
    sleep 0.5
  done
  die "etcd cluster not healthy within 90s: $(lab_etcdctl --command-timeout=5s endpoint health 2>&1 | tr '\n' ' ')"
}

pem_json() { # file -> JSON string
  awk 'BEGIN { ORS = ""; print "\"" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); print $0 "\\n" } END { print "\"" }' "$1"
}

write_cluster_yml() {
  local n key="$DIR/ssh/id_ed25519" f="$DIR/cluster.yml"
  {
    printf '# RKE cluster file of the lab in %s; written by lab/lab.sh up\n' "$DIR"
    printf 'kubernetes_version: %s\n' "$LAB_K8S_VERSION"
    printf 'ssh_key_path: %s\n' "$key"
    printf 'nodes:\n'
    for ((n = 1; n <= LAB_NODES; n++)); do
      printf '  - address: %s\n    port: 22\n    user: root\n    role: [etcd, controlplane, worker]\n' "$(node_ip "$n")"
      printf '    ssh_key_path: %s\n    docker_socket: /var/run/docker.sock\n' "$key"
    done
    printf 'services:\n  etcd:\n    backup_config:\n      timeout: 120\n'
  } >"$f.tmp"
  mv -f "$f.tmp" "$f"
}

write_rkestate() { # a JSON stand-in of RKE's state file, shaped like the real one
  local n ip d f="$DIR/cluster.rkestate" key="$DIR/ssh/id_ed25519" config bundle
  config='{"kubernetesVersion":"'"$LAB_K8S_VERSION"'","sshKeyPath":"'"$key"'","nodes":['
  for ((n = 1; n <= LAB_NODES; n++)); do
    ((n == 1)) || config+=','
    config+='{"address":"'"$(node_ip "$n")"'","port":"22","user":"root","role":["etcd","controlplane","worker"],'
    config+='"sshKeyPath":"'"$key"'","dockerSocket":"/var/run/docker.sock"}'
  done
  config+='],"services":{"etcd":{"backupConfig":{"enabled":true,"intervalHours":12,"retention":6,"timeout":120}}}}'
  cert_json() { # name cn ou env
    printf '"%s":{"name":"%s","commonName":"%s","ouName":"%s","envName":"%s","path":"%s/%s.pem",' "$1" "$1" "$2" "$3" "$4" "$SSL" "$1"
    printf '"keyEnvName":"%s_KEY","keyPath":"%s/%s-key.pem","config":"","configEnvName":"","configPath":"",' "$4" "$SSL" "$1"
    printf '"certificatePEM":%s,"keyPEM":%s}' "$(pem_json "$DIR/pki/$1.pem")" "$(pem_json "$DIR/pki/$1-key.pem")"
  }
  bundle='{'"$(cert_json kube-ca kube-ca "" KUBE_CA)"
  for ((n = 1; n <= LAB_NODES; n++)); do
    ip=$(node_ip "$n")
    d=$(dashes "$ip")
    bundle+=",$(cert_json "kube-etcd-$d" kube-etcd "" "KUBE_ETCD_${d//-/_}")"
  done
  bundle+=",$(cert_json kube-node system:node system:nodes KUBE_NODE)}"
  (
    umask 077
    printf '{"desiredState":{"rkeConfig":%s,"certificatesBundle":%s,"encryptionConfig":""},' "$config" "$bundle" >"$f.tmp"
    printf '"currentState":{"rkeConfig":%s,"certificatesBundle":%s,"encryptionConfig":""}}\n' "$config" "$bundle" >>"$f.tmp"
  )
  chmod 600 "$f.tmp"
  mv -f "$f.tmp" "$f"
  unset -f cert_json
}

UP_PID=$$
abandoned() { # in a background helper of up: true once up itself is gone (killed)
  [[ $BASHPID != "$UP_PID" ]] || return 1
  local s="" pp
  read -r s 2>/dev/null <"/proc/$BASHPID/stat" || return 1
  s=${s##*) }
  read -r _ pp _ <<<"$s"
  [[ $pp != "$UP_PID" ]]
}

for_each_node() { # fn: run fn N for every node in parallel; fail if any failed
  local fn=$1 n rc=0
  shift
  local -a pids=()
  for ((n = 1; n <= LAB_NODES; n++)); do
    "$fn" "$n" "$@" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || rc=1; done
  ((rc == 0)) || exit "$DIE_RC"
}

lab_is_up() { # every daemon alive, every etcd running, cluster healthy
  local n
  [[ ${LAB_STATE:-} == up ]] || return 1
  for ((n = 1; n <= LAB_NODES; n++)); do
    node_pid "$n" >/dev/null && dockerd_pid "$n" >/dev/null || return 1
  done
  etcd_healthy
}

print_summary() {
  local n ip
  printf 'lab up in %s: %s node(s), etcd %s, Kubernetes %s\n' "$DIR" "$LAB_NODES" "${LAB_ETCD_IMAGE#*:}" "$LAB_K8S_VERSION"
  for ((n = 1; n <= LAB_NODES; n++)); do
    ip=$(node_ip "$n")
    printf '  node%-2s %-15s ssh %s:22  etcd https://%s:2379  engine unix://%s\n' "$n" "$ip" "$ip" "$ip" "$(node_socket "$n")"
  done
  printf 'cluster.yml: %s\n' "$DIR/cluster.yml"
  printf 'ssh key:     %s\n' "$DIR/ssh/id_ed25519"
  printf 'facts:       eval "$(bash %s env --dir %s)"\n' "$LAB_SCRIPT" "$DIR"
}

# ---------------------------------------------------------------------------------------
# teardown (down, and up's cleanup of a crashed run): only what the lab in DIR started

stop_containers() {
  local n=$1 sock ids
  dockerd_pid "$n" >/dev/null || return 0
  sock=$(node_socket "$n")
  [[ -S $sock ]] || return 0
  ids=$(timeout 10 docker -H "unix://$sock" ps -q 2>/dev/null) || return 0
  [[ -z $ids ]] && return 0
  # shellcheck disable=SC2086
  timeout 30 docker -H "unix://$sock" stop -t 2 $ids >/dev/null 2>&1 || true
}

stop_dockerd() {
  local n=$1 nd pid
  nd=$(node_dir "$n")
  while pid=$(dockerd_pid "$n"); do
    stop_pid "$pid" 20 dockerd "$nd/docker-data"
    pid_is "$pid" dockerd "$nd/docker-data" && break
  done
  return 0
}

sshd_children_of() { # pid: its children that are sshd sessions ("sshd: root [priv]", "sshd: root@notty")
  local p stat ppid
  for p in /proc/[0-9]*; do
    [[ -r $p/stat ]] || continue
    stat=""
    read -r stat <"$p/stat" 2>/dev/null || continue
    stat=${stat##*) }
    read -r _ ppid _ <<<"$stat"
    if [[ $ppid == "$1" ]] && pid_is "${p#/proc/}" "sshd:"; then printf '%s\n' "${p#/proc/}"; fi
  done
}

kill_sshd_sessions() { # TERM node N's sshd sessions; the listener stays
  local n=$1 pid session child
  pid=$(node_pid "$n") || return 0
  for session in $(sshd_children_of "$pid"); do
    # the unprivileged child holds the connection: without it gone, the client sees nothing
    for child in $(sshd_children_of "$session"); do kill -TERM "$child" 2>/dev/null || true; done
    kill -TERM "$session" 2>/dev/null || true
  done
}

stop_node() {
  local n=$1 nd pid
  nd=$(node_dir "$n")
  pid=$(node_pid "$n") || return 0
  kill_sshd_sessions "$n" # sessions first, then the listener
  stop_pid "$pid" 5 "$nd/sshd/sshd_config"
}

LEFTOVERS=()
kill_leftovers() { # everything else still ours: TERM, then KILL
  local round pid i alive
  local -a pids=()
  for round in TERM TERM KILL KILL; do
    mapfile -t pids < <(lab_pids)
    ((${#pids[@]})) || return 0
    [[ $round == KILL ]] && log "killing leftover processes: ${pids[*]}"
    LEFTOVERS+=("${pids[@]}")
    for pid in "${pids[@]}"; do kill "-$round" "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 20; i++)); do # up to 2s for them to go
      alive=0
      for pid in "${pids[@]}"; do pid_is "$pid" && alive=1 && break; done
      ((alive)) || break
      sleep 0.1
    done
  done
  mapfile -t pids < <(lab_pids)
  ((${#pids[@]} == 0)) || log "warning: processes still alive: ${pids[*]}"
}

unmount_under_dir() { # host mounts below DIR (none expected: nodes mount in private namespaces)
  local t
  findmnt -rn -o TARGET | awk -v d="$DIR/" 'index($0, d) == 1' | sort -r | while read -r t; do
    t=$(printf '%b' "$t")
    umount -- "$t" 2>/dev/null || umount -l -- "$t" 2>/dev/null || log "warning: cannot unmount $t"
  done
}

wait_reaped() { # pids: stopped daemons stay zombies until their new parent (pid 1) reaps them
  local pid i any stat
  for ((i = 0; i < 30; i++)); do
    any=0
    for pid; do
      stat=""
      read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
      stat=${stat##*) }
      [[ ${stat:0:1} == Z ]] && any=1
    done
    ((any)) || return 0
    sleep 0.1
  done
}

teardown() {
  local n count=0 nd LAB_NODES
  [[ -d $DIR ]] || return 0
  local -a daemons=()
  for nd in "$DIR"/nodes/node*; do
    n=${nd##*/node}
    [[ $n =~ ^[0-9]+$ ]] && ((n > count)) && count=$n
  done
  if ((count)); then
    LAB_NODES=$count
    for nd in "$DIR"/nodes/node*/{node,dockerd,dockerd.launch}.pid; do daemons+=("$(read_pid "$nd" || true)"); done
    for_each_node stop_containers || true
    for_each_node stop_dockerd || true
    for ((n = 1; n <= count; n++)); do stop_node "$n"; done
    kill_leftovers
    wait_reaped ${daemons[@]+"${daemons[@]}"} ${LEFTOVERS[@]+"${LEFTOVERS[@]}"}
  fi
  unmount_under_dir
  rm -rf --one-file-system "$DIR/nodes" "$DIR/pki" "$DIR/ssh" "$DIR/cluster.yml" "$DIR/cluster.rkestate" \
    "$DIR/cluster.yml.tmp" "$DIR/cluster.rkestate.tmp" "$DIR"/cache/rootfs.*
  remove_host_targets
  rm -f "$DIR/lab.env" "$DIR/lab.env.tmp"
}

# ---------------------------------------------------------------------------------------
# commands

UP_DONE=0
up_exit() {
  local rc=$?
  ((UP_DONE)) && return 0
  if [[ ${LAB_KEEP_ON_FAILURE:-} == 1 ]]; then
    log "up failed; leaving the lab as it is (LAB_KEEP_ON_FAILURE=1): run lab.sh down --dir $DIR"
    return
  fi
  rm -rf "$DIR/last-failure"
  mkdir -p "$DIR/last-failure"
  local nd
  for nd in "$DIR"/nodes/node*; do
    [[ -d $nd/logs ]] && cp -r "$nd/logs" "$DIR/last-failure/${nd##*/}" 2>/dev/null || true
  done
  log "up failed (exit $rc); tearing down; node logs kept in $DIR/last-failure"
  teardown || true
}

cmd_up() {
  local dir_arg="" a
  LAB_NODES=$DEFAULT_NODES LAB_SUBNET=$DEFAULT_SUBNET LAB_K8S_VERSION=$DEFAULT_K8S
  LAB_ETCD_ARGS=()
  while (($#)); do
    case $1 in
    --nodes) LAB_NODES=${2:?--nodes needs a value} && shift 2 ;;
    --nodes=*) LAB_NODES=${1#*=} && shift ;;
    --subnet) LAB_SUBNET=${2:?--subnet needs a value} && shift 2 ;;
    --subnet=*) LAB_SUBNET=${1#*=} && shift ;;
    --dir) dir_arg=${2:?--dir needs a value} && shift 2 ;;
    --dir=*) dir_arg=${1#*=} && shift ;;
    --kubernetes-version) LAB_K8S_VERSION=${2:?--kubernetes-version needs a value} && shift 2 ;;
    --kubernetes-version=*) LAB_K8S_VERSION=${1#*=} && shift ;;
    --etcd-arg) LAB_ETCD_ARGS+=("${2:?--etcd-arg needs a value}") && shift 2 ;;
    --etcd-arg=*) LAB_ETCD_ARGS+=("${1#*=}") && shift ;;
    *) die "up: unknown argument: $1 (see lab.sh help)" ;;
    esac
  done
  [[ $LAB_NODES =~ ^[1-9][0-9]?$ ]] && ((LAB_NODES <= 20)) || die "--nodes $LAB_NODES: expected 1..20"
  [[ $LAB_SUBNET =~ ^127\.([0-9]{1,3})\.([0-9]{1,3})$ ]] && ((BASH_REMATCH[1] <= 255 && BASH_REMATCH[2] <= 255)) ||
    die "--subnet $LAB_SUBNET: expected three octets inside 127.0.0.0/8, like 127.0.2"
  [[ $LAB_K8S_VERSION =~ ^[A-Za-z0-9._+-]+$ ]] || die "--kubernetes-version $LAB_K8S_VERSION: letters, digits and ._+- only"
  for a in "${LAB_ETCD_ARGS[@]}"; do
    [[ $a == --?* ]] || die "--etcd-arg $a: etcd flags start with --"
  done
  ((EUID == 0)) || die "up needs root (mount namespaces, dockerd)"
  set_dir "$dir_arg"
  local started=$SECONDS
  local -a missing=()
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || cmd_install
  local ver
  ver=$(etcd_version)
  [[ -n $ver ]] || die "cannot read the version of $(command -v etcd || echo etcd)"
  LAB_ETCD_IMAGE="rke-lab/etcd:v$ver"
  [[ $(getent shadow root 2>/dev/null | cut -d: -f2) != '!'* ]] ||
    log "warning: root's password is locked ('!'): sshd with UsePAM no will refuse root logins"

  take_lock 150 lab.sh
  if [[ -e $DIR/lab.env || -d $DIR/nodes ]]; then
    if [[ -r $DIR/lab.env ]]; then
      local want
      want=$(declare -p LAB_NODES LAB_SUBNET LAB_K8S_VERSION LAB_ETCD_IMAGE LAB_ETCD_ARGS)
      if (
        source "$DIR/lab.env"
        [[ $(declare -p LAB_NODES LAB_SUBNET LAB_K8S_VERSION LAB_ETCD_IMAGE LAB_ETCD_ARGS) == "$want" ]] && lab_is_up
      ); then
        log "lab already up with these settings"
        print_summary
        return 0
      fi
    fi
    log "cleaning up the earlier lab in $DIR"
    teardown
  fi
  rm -rf "$DIR/last-failure"
  mkdir -p "$DIR/nodes" "$DIR/cache"
  write_state starting
  trap 'up_exit' EXIT
  check_addresses_free
  make_host_targets

  log "certificates, ssh key, node directories"
  make_pki
  make_ssh_key
  local n
  for ((n = 1; n <= LAB_NODES; n++)); do prepare_node "$n"; done
  local tar="$DIR/cache/etcd-rootfs-v$ver.tar"
  build_etcd_rootfs "$tar" &
  local rootfs_job=$!

  log "starting $LAB_NODES node(s): sshd in private mount namespaces, then dockerd"
  for ((n = 1; n <= LAB_NODES; n++)); do start_node "$n"; done
  for_each_node wait_node
  for ((n = 1; n <= LAB_NODES; n++)); do start_dockerd "$n"; done
  wait "$rootfs_job" || die "could not build the etcd rootfs tar $tar"
  for_each_node wait_dockerd

  log "importing $LAB_ETCD_IMAGE and starting the etcd containers"
  for_each_node import_image "$tar"
  for_each_node run_etcd
  write_cluster_yml
  write_rkestate
  wait_healthy
  write_state up
  UP_DONE=1
  trap - EXIT
  log "healthy after $((SECONDS - started))s"
  print_summary
}

cmd_down() {
  local dir_arg="" purge=0
  while (($#)); do
    case $1 in
    --dir) dir_arg=${2:?--dir needs a value} && shift 2 ;;
    --dir=*) dir_arg=${1#*=} && shift ;;
    --purge) purge=1 && shift ;;
    *) die "down: unknown argument: $1" ;;
    esac
  done
  set_dir "$dir_arg"
  if [[ ! -d $DIR ]]; then
    log "nothing to stop: $DIR does not exist"
    return 0
  fi
  ((EUID == 0)) || die "down needs root"
  local started=$SECONDS
  take_lock 150 lab.sh
  teardown
  rm -rf "$DIR/last-failure"
  if ((purge)); then rm -rf --one-file-system "$DIR/cache"; fi
  log "lab in $DIR is down ($((SECONDS - started))s)"
}

cmd_status() {
  parse_dir_only "$@"
  load_state
  local n ip pid state ok=1 sshd dockerd
  printf 'lab %s: %s node(s) on %s.1-%s, state %s\n' "$DIR" "$LAB_NODES" "$LAB_SUBNET" "$LAB_NODES" "$LAB_STATE"
  for ((n = 1; n <= LAB_NODES; n++)); do
    ip=$(node_ip "$n")
    if pid=$(node_pid "$n"); then sshd="up (pid $pid)"; else sshd=down ok=0; fi
    if pid=$(dockerd_pid "$n"); then
      dockerd="up (pid $pid)"
      state=$(timeout 5 docker -H "unix://$(node_socket "$n")" inspect -f '{{.State.Status}}' etcd 2>/dev/null || echo missing)
    else
      dockerd=down state=unknown ok=0
    fi
    [[ $state == running ]] || ok=0
    printf '  node%-2s %-15s sshd %-16s dockerd %-16s etcd container %s\n' "$n" "$ip" "$sshd" "$dockerd" "$state"
  done
  lab_etcdctl --command-timeout=5s endpoint health 2>&1 | sed 's/^/  /' || ok=0
  ((ok)) || exit 1
}

cmd_env() {
  parse_dir_only "$@"
  load_state
  [[ $LAB_STATE == up ]] || die "the lab in $DIR is not up (state $LAB_STATE)"
  local n addrs=() ssh_only=() socks=()
  for ((n = 1; n <= LAB_NODES; n++)); do
    addrs+=("$(node_ip "$n")")
    ssh_only+=("$(node_ssh_only_ip "$n")")
    socks+=("$(node_socket "$n")")
  done
  cat <<EOF
LAB_DIR=$DIR
LAB_NODES=$LAB_NODES
LAB_ADDRESSES='${addrs[*]}'
LAB_SSH_ONLY_ADDRESSES='${ssh_only[*]}'
LAB_ALT_SSH_PORT=$ALT_SSH_PORT
LAB_CLUSTER_YML=$DIR/cluster.yml
LAB_STATE_FILE=$DIR/cluster.rkestate
LAB_SSH_KEY=$DIR/ssh/id_ed25519
LAB_CA=$DIR/pki/kube-ca.pem
LAB_NODE_CERT=$DIR/pki/kube-node.pem
LAB_NODE_KEY=$DIR/pki/kube-node-key.pem
LAB_ETCD_ENDPOINTS=$(endpoints)
LAB_ETCD_IMAGE=$LAB_ETCD_IMAGE
LAB_KUBERNETES_VERSION=$LAB_K8S_VERSION
LAB_DOCKER_SOCKETS='${socks[*]}'
EOF
}

# `docker`, `exec`, `ssh`, `etcdctl`: an optional --dir first, then the node number where needed.
LEAD_DIR=""

node_arg() {
  [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || die "$CMD: expected a node number, got '${1:-}'"
  (($1 <= LAB_NODES)) || die "$CMD: node $1 does not exist (the lab has $LAB_NODES)"
}

# The per-node commands take "[--dir DIR] N ARGS...": sets NODE_N and NODE_ARGS.
parse_node_command() {
  local k=0
  take_lead_dir "$@" || k=$?
  shift "$k"
  set_dir "$LEAD_DIR"
  load_state
  node_arg "${1:-}"
  NODE_N=$1
  shift
  NODE_ARGS=("$@")
}

cmd_docker() {
  parse_node_command "$@"
  local n=$NODE_N
  [[ -S $(node_socket "$n") ]] || die "node $n: its engine is not running (no $(node_socket "$n"))"
  exec docker -H "unix://$(node_socket "$n")" "${NODE_ARGS[@]}"
}

cmd_exec() {
  local pid
  parse_node_command "$@"
  local n=$NODE_N
  set -- "${NODE_ARGS[@]}"
  [[ ${1:-} != -- ]] || shift
  (($#)) || die "exec: no command (lab.sh exec N -- CMD...)"
  pid=$(node_pid "$n") || die "node $n: its node process (sshd) is not running"
  exec nsenter -t "$pid" -m -- "$@"
}

cmd_ssh() {
  parse_node_command "$@"
  exec ssh -i "$DIR/ssh/id_ed25519" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR "root@$(node_ip "$NODE_N")" "${NODE_ARGS[@]}"
}

# Faults for the tests (test/integration/faults.test.ts).
cmd_dockerd_stop() { # the node's engine goes away, and with it the etcd container
  parse_node_command "$@"
  stop_dockerd "$NODE_N"
  stop_engine_children "$NODE_N"
}

engine_children() { # node N's containerd and shims, which can outlive its dockerd for a moment
  local nd p argv0 CMDLINE
  nd=$(node_dir "$1")
  for p in /proc/[0-9]*; do
    cmdline_of "${p#/proc/}" || continue
    argv0=${CMDLINE%% *}
    argv0=${argv0##*/}
    [[ ($argv0 == containerd || $argv0 == containerd-shim*) && $CMDLINE == *"$nd/"* ]] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

stop_engine_children() { # n [rounds]: each round sends its signal (none for WAIT), then gives them 10 s to go
  local n=$1 rounds=${2:-WAIT TERM KILL} round i pid
  local -a pids=()
  for round in $rounds; do
    mapfile -t pids < <(engine_children "$n")
    ((${#pids[@]})) || return 0
    if [[ $round != WAIT ]]; then
      log "node $n: ${round} to containerd processes still alive without their dockerd: ${pids[*]}"
      for pid in "${pids[@]}"; do kill "-$round" "$pid" 2>/dev/null || true; done
    fi
    for ((i = 0; i < 100; i++)); do
      mapfile -t pids < <(engine_children "$n")
      ((${#pids[@]})) || return 0
      sleep 0.1
    done
  done
  die "node $n: containerd processes still alive: ${pids[*]}"
}

cmd_dockerd_kill() { # dockerd dies at once; what containerd runs goes on without it
  parse_node_command "$@"
  local pid nd i
  nd=$(node_dir "$NODE_N")
  pid=$(dockerd_pid "$NODE_N") || die "node $NODE_N: dockerd is not running"
  kill -KILL "$pid"
  for ((i = 0; i < 50; i++)); do
    pid_is "$pid" dockerd "$nd/docker-data" || return 0
    sleep 0.1
  done
  die "node $NODE_N: dockerd (pid $pid) did not die"
}

kill_orphaned_tasks() { # after dockerd-kill: the processes of node N's containers, still running without it
  local n=$1 nd c p cg
  local -a ids=() pids=()
  nd=$(node_dir "$n")
  for c in "$nd"/docker-data/containers/*/; do
    c=${c%/}
    ids+=("${c##*/}")
  done
  ((${#ids[@]})) || return 0
  for p in /proc/[0-9]*; do
    cg=""
    read -r -d '' cg 2>/dev/null <"$p/cgroup" || true
    for c in "${ids[@]}"; do
      [[ $cg == *"$c"* ]] && pids+=("${p#/proc/}") && break
    done
  done
  ((${#pids[@]})) || return 0
  log "node $n: killing the processes of containers left running when its dockerd was killed: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

cmd_dockerd_start() { # the engine back, and the etcd container started again
  parse_node_command "$@"
  dockerd_pid "$NODE_N" >/dev/null && die "node $NODE_N: dockerd is already running"
  kill_orphaned_tasks "$NODE_N"
  stop_engine_children "$NODE_N" "TERM KILL" # after a kill, containerd does not leave by itself
  rm -f "$(node_dir "$NODE_N")/dockerd.pid" # a killed dockerd leaves it, and a new one refuses to start
  # After a kill, the first start may time out while its containerd cleans up the dead tasks.
  if ! (start_dockerd "$NODE_N" && wait_dockerd "$NODE_N"); then
    log "node $NODE_N: dockerd did not come up; trying once more"
    rm -f "$(node_dir "$NODE_N")/dockerd.pid"
    start_dockerd "$NODE_N"
    wait_dockerd "$NODE_N"
  fi
  ndocker "$NODE_N" start etcd >/dev/null
}

cmd_ssh_drop() { # every SSH session to the node is cut; sshd keeps listening
  parse_node_command "$@"
  kill_sshd_sessions "$NODE_N"
}

cmd_etcdctl() {
  local k=0
  take_lead_dir "$@" || k=$?
  shift "$k"
  set_dir "$LEAD_DIR"
  load_state
  lab_etcdctl "$@"
}

main() {
  split_command LAB_DIR "$@"
  set -- "${REST[@]}"
  case $CMD in
  install) cmd_install "$@" ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  docker) cmd_docker "$@" ;;
  exec) cmd_exec "$@" ;;
  ssh) cmd_ssh "$@" ;;
  etcdctl) cmd_etcdctl "$@" ;;
  dockerd-stop) cmd_dockerd_stop "$@" ;;
  dockerd-kill) cmd_dockerd_kill "$@" ;;
  dockerd-start) cmd_dockerd_start "$@" ;;
  ssh-drop) cmd_ssh_drop "$@" ;;
  help | -h | --help) usage ;;
  *)
    usage >&2
    die "unknown command: $CMD"
    ;;
  esac
}

main "$@"
