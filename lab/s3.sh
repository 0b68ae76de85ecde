#!/usr/bin/env bash
# lab/s3.sh — a real S3 server for the lab: a one-node Ceph cluster (mon, one memstore OSD)
# with radosgw serving HTTPS, plus an instance-metadata (IMDSv2) stand-in for role credentials.
# Everything lives under one directory and on 127.0.3.1/127.0.3.2. See docs/lab.md.
set -Eeuo pipefail
shopt -s nullglob

S3_SCRIPT=$(realpath "${BASH_SOURCE[0]}")
LAB_DIR_OF_SCRIPT=$(dirname "$S3_SCRIPT")
readonly IMDS_SCRIPT=$LAB_DIR_OF_SCRIPT/imds.mjs
readonly SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH="$PATH:$SYS_PATH"
readonly PACKAGES=(ceph-mon ceph-osd radosgw ceph-common awscli openssl)
readonly DIE_RC=3

# The lab's two addresses are SUBNET.1 (S3) and SUBNET.2 (IMDS). SUBNET comes from $S3_LAB_SUBNET
# at `up` (default 127.0.3) and is kept in DIR/subnet for the other commands (set_dir).
S3_IP="" IMDS_IP=""
readonly S3_PORT=7480 IMDS_PORT=80
readonly MON_PORTS=(3300 6789) OSD_PORT_MIN=6800 OSD_PORT_MAX=6807
# Objects live in the OSD's RAM (memstore), up to MEMSTORE_BYTES. Each bucket has a quota of
# BUCKET_QUOTA_BYTES so that S3 clients get 403 QuotaExceeded long before the OSD is full: a full
# Ceph cluster does not fail writes, it blocks them (clients see timeouts).
# Both can be raised at `up` with S3_LAB_MEMSTORE_MIB / S3_LAB_QUOTA_MIB (the benchmark does).
readonly MEMSTORE_BYTES=$((${S3_LAB_MEMSTORE_MIB:-2560} * 1024 * 1024)) BUCKET_QUOTA_BYTES=$((${S3_LAB_QUOTA_MIB:-1024} * 1024 * 1024))
readonly RGW_NAME=client.rgw.lab MON_ID=a
readonly BUCKET=snapshots VERSIONED_BUCKET=snapshots-versioned LOCKED_BUCKET=snapshots-locked
# SSE-KMS through RGW's `testing` KMS backend (keys in ceph.conf, no KMS server): lab-only keys.
readonly KMS_KEY_ID=testkey-1 KMS_KEY_B64=TGFiS21zVGVzdGluZ0tleU9uZTAwMDAwMDAwMDAwMDA=
readonly ADMIN_USER=admin-user RESTRICTED_USER=restricted-user ROLE_USER=role-user
readonly ADMIN_KEY=LABADMINACCESSKEY000 RESTRICTED_KEY=LABRESTRICTEDKEY0000 ROLE_KEY=LABROLEACCESSKEY0000
readonly ROLE_NAME=rke-etcd-backup REGION=us-east-1

# ---------------------------------------------------------------------------------------
# messages and errors

# shellcheck source=lab/common.sh
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

lab_messages s3-lab s3.sh
trap 'exit 130' INT
trap 'exit 143' TERM

usage() {
  cat <<'EOF'
usage: s3.sh COMMAND [--dir DIR] [ARGS]
  install            apt-get install ceph-mon ceph-osd radosgw ceph-common awscli openssl (if missing)
  up                 start mon + memstore OSD + radosgw (HTTPS 127.0.3.1:7480) + IMDS stand-in
                     (http://127.0.3.2), create users, buckets, bucket policy
  down               stop everything up started, remove the runtime state
  status             daemons (pid, RSS), ceph health, S3 and IMDS answering
  env                shell-sourceable facts (S3_ENDPOINT, S3_CA, keys, IMDS_ENDPOINT, ...)
  aws [--user admin|restricted|role] ARGS...
                     the aws cli against the lab (keys, endpoint, CA set); default user admin
  ceph ARGS... / radosgw-admin ARGS...
                     the Ceph tools against the lab's cluster
  imds-stop | imds-start
                     take the metadata stand-in away / bring it back
  rgw-kill | rgw-start
                     faults for tests: radosgw dies at once (SIGKILL) / comes back
  rgw-pause | rgw-resume
                     faults for tests: radosgw goes silent (SIGSTOP: connections stay open, nothing answers) / answers again (SIGCONT)
DIR defaults to $S3_LAB_DIR, else /tmp/rke-s3-lab.
At up: S3_LAB_SUBNET=127.X.Y puts S3 on 127.X.Y.1 and IMDS on 127.X.Y.2 (default 127.0.3);
S3_LAB_MEMSTORE_MIB (default 2560) and S3_LAB_QUOTA_MIB (per bucket, default 1024) size it.
EOF
}

# ---------------------------------------------------------------------------------------
# the lab directory

DIR="" CONF=""
set_dir() {
  local want=${1:-${S3_LAB_DIR:-/tmp/rke-s3-lab}}
  DIR=$(realpath -m -- "$want")
  [[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "--dir $want: use a path of letters, digits and ._/+- only"
  [[ $DIR != / ]] || die "--dir /: refusing the root directory"
  local bad
  for bad in /run /var/run /proc /sys /dev /etc /usr /var/lib/ceph; do
    [[ $DIR == "$bad" || $DIR == "$bad"/* ]] && die "--dir $DIR: must not be under $bad"
  done
  # admin sockets live in DIR/run; unix socket paths are limited to 107 bytes
  ((${#DIR} <= 60)) || die "--dir $DIR: too long for Ceph's admin sockets (keep it at most 60 characters)"
  CONF=$DIR/ceph.conf
  local subnet=${S3_LAB_SUBNET:-127.0.3}
  [[ -r $DIR/subnet ]] && read -r subnet <"$DIR/subnet"
  [[ $subnet =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "S3 lab subnet $subnet: use 127.X.Y"
  S3_IP=$subnet.1 IMDS_IP=$subnet.2
}

load_state() {
  [[ -r $DIR/s3.env ]] || die "no S3 lab in $DIR (run: s3.sh up --dir $DIR)"
  # shellcheck disable=SC1091
  source "$DIR/s3.env"
  [[ -n ${S3_LAB_STATE:-} ]] || die "$DIR/s3.env is damaged; run s3.sh down --dir $DIR"
}

write_state() { # $1 = starting|up
  printf '# written by lab/s3.sh up\nS3_LAB_STATE=%q\n' "$1" >"$DIR/s3.env.tmp"
  mv -f "$DIR/s3.env.tmp" "$DIR/s3.env"
}

load_keys() {
  [[ -r $DIR/keys.env ]] || die "no keys in $DIR (is the S3 lab up? s3.sh up --dir $DIR)"
  # shellcheck disable=SC1091
  source "$DIR/keys.env"
}

# ---------------------------------------------------------------------------------------
# processes: only ever signal what we started (pid files, verified against /proc)

# The daemons: name -> what its command line must contain (besides the pid file's pid).
daemon_needles() {
  case $1 in
  mon) printf '%s\n' ceph-mon "$CONF" ;;
  osd) printf '%s\n' ceph-osd "$CONF" ;;
  rgw) printf '%s\n' radosgw "$CONF" ;;
  imds) printf '%s\n' "$IMDS_SCRIPT" "$DIR/imds.json" ;;
  esac
}

daemon_pid() { # name -> pid if alive and ours
  local pid
  local -a needles=()
  pid=$(read_pid "$DIR/run/$1.pid") || return 1
  mapfile -t needles < <(daemon_needles "$1")
  pid_is "$pid" "${needles[@]}" || return 1
  printf '%s' "$pid"
}

# The pid we started is still alive, whatever it runs: during start-up it may not have exec'd yet,
# and while it execs /proc/PID/cmdline can read empty, so look at the state in /proc/PID/stat.
daemon_alive() { # name
  local pid
  pid=$(read_pid "$DIR/run/$1.pid") || return 1
  pid_alive "$pid"
}

stop_daemon() { # name signal seconds: signal, wait, then KILL; only if it still matches
  local name=$1 sig=$2 secs=$3 pid i
  local -a needles=()
  pid=$(daemon_pid "$name") || return 0
  mapfile -t needles < <(daemon_needles "$name")
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    pid_is "$pid" "${needles[@]}" || return 0
    sleep 0.1
  done
  pid_is "$pid" "${needles[@]}" && kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    pid_is "$pid" "${needles[@]}" || return 0
    sleep 0.1
  done
  log "warning: $name (pid $pid) did not exit"
}

lab_pids() { # anything else that can only be ours: a command line naming DIR/ceph.conf or DIR/imds.json
  local p pid CMDLINE
  [[ -d $DIR ]] || return 0
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
    cmdline_of "$pid" || continue
    [[ $CMDLINE == *" $CONF"* || $CMDLINE == *"--conf=$CONF"* || $CMDLINE == *" $DIR/imds.json"* ]] || continue
    [[ $CMDLINE == *s3.sh* ]] && continue # another s3.sh command (e.g. `s3.sh ceph ...`) is not a daemon
    printf '%s\n' "$pid"
  done
}

kill_leftovers() {
  local round pid i alive
  local -a pids=()
  for round in TERM KILL KILL; do
    mapfile -t pids < <(lab_pids)
    ((${#pids[@]})) || return 0
    log "stopping leftover processes ($round): ${pids[*]}"
    for pid in "${pids[@]}"; do kill "-$round" "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 20; i++)); do
      alive=0
      for pid in "${pids[@]}"; do pid_is "$pid" && alive=1 && break; done
      ((alive)) || break
      sleep 0.1
    done
  done
  mapfile -t pids < <(lab_pids)
  ((${#pids[@]} == 0)) || log "warning: processes still alive: ${pids[*]}"
}

# A long-lived daemon: own session, clean environment, stdin /dev/null, output to a log file and
# no other inherited descriptor. The subshell execs, so $! is the daemon's pid.
spawn_daemon() { # name logfile command...
  local name=$1 logfile=$2
  shift 2
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec env -i PATH="$SYS_PATH" HOME=/root LANG=C.UTF-8 CEPH_CONF="$CONF" setsid "$@" </dev/null >>"$logfile" 2>&1
  ) &
  printf '%s\n' "$!" >"$DIR/run/$name.pid"
  disown "$!" # no job notices ("Killed") when up's clean-up stops it
}

# ---------------------------------------------------------------------------------------
# install

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_CREATED=0

cmd_install() {
  (($# == 0)) || die "install takes no arguments"
  # Also keeps the packages from starting services (ceph targets, lvm2 monitors).
  install_missing_packages lab/s3.sh "about 75 packages with dependencies; a minute or two"
}

# ---------------------------------------------------------------------------------------
# up: pieces

check_addresses_free() {
  local ip port l
  local -a listening=() want=()
  for port in "${MON_PORTS[@]}" $(seq "$OSD_PORT_MIN" "$OSD_PORT_MAX") "$S3_PORT"; do want+=("$S3_IP:$port"); done
  want+=("$IMDS_IP:$IMDS_PORT")
  mapfile -t listening < <(ss -Htln 2>/dev/null | awk '{print $4}')
  for ip in $S3_IP $IMDS_IP; do
    [[ $(ip -o route get "$ip" 2>/dev/null) == local* ]] || die "$ip is not a local address here (needs the loopback route 127.0.0.0/8 dev lo)"
  done
  for port in "${want[@]}"; do
    for l in "${listening[@]}"; do
      case $l in
      "$port" | "0.0.0.0:${port##*:}" | "*:${port##*:}" | "[::]:${port##*:}")
        die "$port is already taken (listener $l); is another S3 lab running?"
        ;;
      esac
    done
  done
}

make_pki() { # DIR/ca.pem (lab CA, not trusted by the system), DIR/pki/rgw.pem, DIR/other-ca.pem
  local pki=$DIR/pki
  mkdir -p "$pki"
  (
    umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/O=rke-lab/CN=rke S3 lab CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$pki/ca-key.pem" -out "$pki/ca.pem" &&
      openssl req -new -newkey rsa:2048 -nodes -subj "/O=rke-lab/CN=s3.lab.local" \
        -keyout "$pki/rgw-key.pem" -out "$pki/rgw.csr" &&
      printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
        extendedKeyUsage=serverAuth "subjectAltName=IP:$S3_IP,DNS:s3.lab.local,DNS:localhost" >"$pki/rgw.ext" &&
      openssl x509 -req -in "$pki/rgw.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca-key.pem" \
        -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$pki/rgw.ext" -out "$pki/rgw.pem"
  ) 2>/dev/null || exit 1
  (
    umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/O=rke-lab/CN=unrelated lab CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$pki/other-ca-key.pem" -out "$pki/other-ca.pem"
  ) 2>/dev/null || exit 1
  rm -f "$pki/rgw.csr" "$pki/rgw.ext"
  chmod 644 "$pki/ca.pem" "$pki/rgw.pem" "$pki/other-ca.pem"
  cp "$pki/ca.pem" "$DIR/ca.pem"
  cp "$pki/other-ca.pem" "$DIR/other-ca.pem"
}

secret() { # 40 characters of the AWS secret alphabet
  local s=""
  while ((${#s} < 40)); do s+=$(openssl rand -base64 48 | tr -d '\n='); done
  printf '%s' "${s:0:40}"
}

write_keys() {
  (
    umask 077
    {
      printf '# S3 lab credentials; written by lab/s3.sh up\n'
      printf 'S3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\n' "$ADMIN_KEY" "$(secret)"
      printf 'S3_RESTRICTED_ACCESS_KEY=%s\nS3_RESTRICTED_SECRET_KEY=%s\n' "$RESTRICTED_KEY" "$(secret)"
      printf 'S3_ROLE_ACCESS_KEY=%s\nS3_ROLE_SECRET_KEY=%s\n' "$ROLE_KEY" "$(secret)"
      # served as the role's session token; RGW (STS off) does not check it, see docs/lab.md
      printf 'S3_ROLE_SESSION_TOKEN=%s\n' "$(openssl rand -base64 480 | tr -d '\n=' | tr '+/' '-_')"
    } >"$DIR/keys.env.tmp"
  )
  chmod 600 "$DIR/keys.env.tmp"
  mv -f "$DIR/keys.env.tmp" "$DIR/keys.env"
}

write_conf() { # $1 fsid
  cat >"$CONF" <<EOF
# one-node Ceph cluster of the S3 lab; written by lab/s3.sh up
[global]
fsid = $1
mon host = [v2:$S3_IP:${MON_PORTS[0]},v1:$S3_IP:${MON_PORTS[1]}]
mon initial members = $MON_ID
public addr = $S3_IP
cluster addr = $S3_IP
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
auth cluster required = none
auth service required = none
auth client required = none
# with auth off, the default "secure" mode never completes: radosgw loops on -13
ms mon client mode = crc
ms client mode = crc
ms mon service mode = crc
ms service mode = crc
ms cluster mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/\$cluster.\$channel.log
crash dir = $DIR/crash
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
pid file = $DIR/run/\$type.\$id.daemon.pid

[osd]
pid file = $DIR/run/\$type.\$id.daemon.pid

[$RGW_NAME]
pid file = $DIR/run/rgw.daemon.pid
rgw data = $DIR/rgw
rgw frontends = beast ssl_endpoint=$S3_IP:$S3_PORT ssl_certificate=$DIR/pki/rgw.pem ssl_private_key=$DIR/pki/rgw-key.pem
rgw thread pool size = 64
rgw init timeout = 60
# quota checks against fresh bucket stats; deleted data freed within about half a minute, not hours
rgw bucket quota ttl = 0
rgw gc obj min wait = 5
rgw gc processor period = 10
rgw gc processor max time = 10
# SPEC §7 (SSE-KMS): the testing backend takes its keys from here; SSE-C and SSE-KMS need HTTPS
# (rgw crypt require ssl, default true), which this frontend is.
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = $KMS_KEY_ID=$KMS_KEY_B64
EOF
}

ceph_cli() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }
rgw_admin() { timeout 30 radosgw-admin -c "$CONF" "$@"; }

start_mon() {
  local fsid=$1 out
  out=$(ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n "mon." --cap mon 'allow *' 2>&1 &&
    ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' 2>&1 &&
    monmaptool --create --fsid "$fsid" --addv "$MON_ID" "[v2:$S3_IP:${MON_PORTS[0]},v1:$S3_IP:${MON_PORTS[1]}]" "$DIR/monmap" 2>&1 &&
    ceph-mon -c "$CONF" --mkfs -i "$MON_ID" --monmap "$DIR/monmap" --keyring "$DIR/keyring" 2>&1) ||
    die "creating the monitor failed: ${out//$'\n'/ }"
  spawn_daemon mon "$DIR/log/mon.out" ceph-mon -c "$CONF" -f -i "$MON_ID"
}

wait_port() { # name ip port seconds
  local name=$1 ip=$2 port=$3 secs=$4 i
  for ((i = 0; i < secs * 20; i++)); do
    daemon_alive "$name" || die "$name exited during start: $(log_tail "$DIR/log/$name.out") (see $DIR/log)"
    ss -Htln "src $ip:$port" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  die "$name did not listen on $ip:$port within ${secs}s (see $DIR/log)"
}

start_osd() {
  local uuid id out
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph_cli osd new "$uuid" 2>&1) || die "ceph osd new failed: ${id//$'\n'/ }"
  [[ $id == 0 ]] || die "ceph osd new returned '$id', expected 0"
  mkdir -p "$DIR/osd/ceph-0"
  out=$(ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" 2>&1) || die "ceph-osd --mkfs failed: ${out//$'\n'/ }"
  spawn_daemon osd "$DIR/log/osd.out" ceph-osd -c "$CONF" -f -i 0
}

wait_osd_up() {
  local i
  for ((i = 0; i < 150; i++)); do
    daemon_alive osd || die "ceph-osd exited during start: $(log_tail "$DIR/log/osd.out") (see $DIR/log)"
    ceph_cli osd dump 2>/dev/null | grep -q '^osd\.0 up' && return 0
    sleep 0.2
  done
  die "osd.0 not up within 30s (see $DIR/log/osd.0.log)"
}

start_rgw() {
  mkdir -p "$DIR/rgw"
  spawn_daemon rgw "$DIR/log/rgw.out" radosgw -c "$CONF" -f -n "$RGW_NAME"
}

wait_https() { # radosgw answers S3 over TLS with the lab CA
  local i
  for ((i = 0; i < 600; i++)); do
    daemon_alive rgw || die "radosgw exited during start: $(log_tail "$DIR/log/rgw.out") (see $DIR/log)"
    if ss -Htln "src $S3_IP:$S3_PORT" 2>/dev/null | grep -q . &&
      curl -sf -o /dev/null --max-time 5 --cacert "$DIR/ca.pem" "https://$S3_IP:$S3_PORT/"; then
      return 0
    fi
    sleep 0.1
  done
  die "radosgw did not answer on https://$S3_IP:$S3_PORT within 60s (see $DIR/log/$RGW_NAME.log)"
}

create_user() { # uid access secret display
  local out
  out=$(rgw_admin user create --uid "$1" --display-name "$4" --access-key "$2" --secret-key "$3" 2>&1) ||
    die "radosgw-admin user create $1 failed: ${out//$'\n'/ }"
}

set_bucket_quota() { # for every bucket admin-user owns
  local out
  out=$(rgw_admin quota set --quota-scope=bucket --uid="$ADMIN_USER" --max-size="$BUCKET_QUOTA_BYTES" 2>&1 &&
    rgw_admin quota enable --quota-scope=bucket --uid="$ADMIN_USER" 2>&1) ||
    die "radosgw-admin quota for $ADMIN_USER failed: ${out//$'\n'/ }"
}

# The aws cli with one of the lab's identities and nothing from ~/.aws or the environment.
lab_aws() { # user args...
  local user=$1 key secret
  shift
  case $user in
  admin) key=$S3_ACCESS_KEY secret=$S3_SECRET_KEY ;;
  restricted) key=$S3_RESTRICTED_ACCESS_KEY secret=$S3_RESTRICTED_SECRET_KEY ;;
  role) key=$S3_ROLE_ACCESS_KEY secret=$S3_ROLE_SECRET_KEY ;;
  *) die "aws: unknown user '$user' (admin, restricted or role)" ;;
  esac
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN -u AWS_ENDPOINT_URL -u AWS_CA_BUNDLE \
    AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=$REGION AWS_REGION=$REGION \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" \
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required \
    /usr/bin/python3 -c "$AWS_SHIM" --endpoint-url "https://$S3_IP:$S3_PORT" --ca-bundle "$DIR/ca.pem" "$@"
}

# Debian's aws cli (/usr/bin/aws, 2.9), run so that RGW's errors show their code: RGW sends an
# empty <Message/>, on which the cli's S3 error hook crashes ("argument of type 'NoneType' is
# not iterable") and hides the code. The shim gives that hook an empty string instead.
# shellcheck disable=SC2016
readonly AWS_SHIM='import sys
import awscli.customizations.s3errormsg as m
_orig = m.enhance_error_msg
def _enhance(parsed, **kwargs):
    err = parsed.get("Error") if isinstance(parsed, dict) else None
    if isinstance(err, dict) and err.get("Message") is None:
        err["Message"] = ""
    return _orig(parsed, **kwargs)
m.enhance_error_msg = _enhance
sys.argv[0] = "aws"
import awscli.clidriver
sys.exit(awscli.clidriver.main())'

# The seed's sample IAM policy (Sids, actions and resources as in RKE's documentation) as a bucket
# policy: for restricted-user on snapshots only, and for role-user on both buckets. RGW names a
# user without a tenant arn:aws:iam:::user/UID.
seed_statements() { # uid bucket sid-prefix
  cat <<EOF
    {
      "Sid": "${3}ListObjectsInBucket",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam:::user/$1"]},
      "Action": ["s3:ListBucket"],
      "Resource": ["arn:aws:s3:::$2"]
    },
    {
      "Sid": "${3}AllObjectActions",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam:::user/$1"]},
      "Action": "s3:*Object",
      "Resource": ["arn:aws:s3:::$2/*"]
    }
EOF
}

bucket_policy() { # bucket
  printf '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
  if [[ $1 == "$BUCKET" ]]; then
    seed_statements "$RESTRICTED_USER" "$1" ""
    printf '    ,\n'
  fi
  seed_statements "$ROLE_USER" "$1" Role
  printf '  ]\n}\n'
}

# The buckets, through the aws cli's own botocore in one Python process (one aws cli run per call
# would take about 1 s each): created by admin-user, one versioned, with the policies above.
readonly BUCKETS_PY='import sys
from awscli.botocore.session import Session
from awscli.botocore.config import Config
endpoint, ca, bucket, policy, vbucket, vpolicy, lbucket = sys.argv[1:8]
s = Session()
s.set_config_variable("config_file", "/dev/null")
s.set_config_variable("credentials_file", "/dev/null")
c = s.create_client("s3", endpoint_url=endpoint, verify=ca, region_name="us-east-1",
                    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
step = ""
try:
    step = "create-bucket " + bucket
    c.create_bucket(Bucket=bucket)
    step = "put-bucket-policy " + bucket
    c.put_bucket_policy(Bucket=bucket, Policy=policy)
    step = "create-bucket " + vbucket
    c.create_bucket(Bucket=vbucket)
    step = "put-bucket-versioning " + vbucket
    c.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Enabled"})
    step = "put-bucket-policy " + vbucket
    c.put_bucket_policy(Bucket=vbucket, Policy=vpolicy)
    if c.get_bucket_versioning(Bucket=vbucket).get("Status") != "Enabled":
        sys.exit("versioning of " + vbucket + " is not Enabled")
    step = "create-bucket " + lbucket + " (Object Lock)"
    c.create_bucket(Bucket=lbucket, ObjectLockEnabledForBucket=True)
    if c.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"].get("ObjectLockEnabled") != "Enabled":
        sys.exit("Object Lock of " + lbucket + " is not Enabled")
except Exception as e:  # botocore ClientError (with the S3 error code) or a connection/TLS error
    err = getattr(e, "response", {}).get("Error", {})
    sys.exit("%s: %s" % (step, err.get("Code") or e))'

make_buckets() {
  local out
  out=$(env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
    AWS_EC2_METADATA_DISABLED=true /usr/bin/python3 -c "$BUCKETS_PY" "https://$S3_IP:$S3_PORT" "$DIR/ca.pem" \
    "$BUCKET" "$(bucket_policy "$BUCKET")" "$VERSIONED_BUCKET" "$(bucket_policy "$VERSIONED_BUCKET")" "$LOCKED_BUCKET" 2>&1) ||
    die "creating the buckets failed: ${out//$'\n'/ }"
}

write_imds_json() { # what the metadata stand-in serves (re-read on every request)
  (
    umask 077
    cat >"$DIR/imds.json.tmp" <<EOF
{"roleName":"$ROLE_NAME","accessKeyId":"$S3_ROLE_ACCESS_KEY","secretAccessKey":"$S3_ROLE_SECRET_KEY","token":"$S3_ROLE_SESSION_TOKEN","region":"$REGION","log":"$DIR/log/imds-requests.log"}
EOF
  )
  mv -f "$DIR/imds.json.tmp" "$DIR/imds.json"
}

start_imds() {
  local node
  node=$(command -v node) || die "node not found (the IMDS stand-in needs Node.js)"
  [[ -r $IMDS_SCRIPT ]] || die "missing $IMDS_SCRIPT"
  [[ -r $DIR/imds.json ]] || die "no $DIR/imds.json (is the S3 lab up?)"
  daemon_pid imds >/dev/null && return 0
  spawn_daemon imds "$DIR/log/imds.out" "$node" "$IMDS_SCRIPT" "$IMDS_IP" "$IMDS_PORT" "$DIR/imds.json"
  wait_port imds "$IMDS_IP" "$IMDS_PORT" 10
}

lab_is_up() {
  [[ ${S3_LAB_STATE:-} == up ]] || return 1
  local d
  for d in mon osd rgw imds; do daemon_pid "$d" >/dev/null || return 1; done
  curl -sf -o /dev/null --max-time 5 --cacert "$DIR/ca.pem" "https://$S3_IP:$S3_PORT/"
}

print_summary() {
  printf 'S3 lab up in %s: Ceph RGW %s\n' "$DIR" "$(radosgw --version 2>/dev/null | awk '{print $3; exit}')"
  printf '  S3    https://%s:%s  (CA %s; buckets %s, %s (versioned), %s (Object Lock))\n' "$S3_IP" "$S3_PORT" "$DIR/ca.pem" "$BUCKET" "$VERSIONED_BUCKET" "$LOCKED_BUCKET"
  printf '  IMDS  http://%s  (role %s)\n' "$IMDS_IP" "$ROLE_NAME"
  # shellcheck disable=SC2016
  printf 'facts: eval "$(bash %s env --dir %s)"\n' "$S3_SCRIPT" "$DIR"
}

# ---------------------------------------------------------------------------------------
# teardown: only what the lab in DIR started

# Stopped daemons stay zombies until their new parent (pid 1 here) reaps them; wait for that so
# that `down` leaves nothing behind in the process table.
wait_gone() { # pids
  local pid i any stat
  for pid; do # our own children (daemons started by this up) we reap ourselves
    stat=""
    read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
    stat=${stat##*) }
    read -r _ stat _ <<<"$stat"
    if [[ $stat == "$$" ]]; then { wait "$pid"; } 2>/dev/null || true; fi
  done
  for ((i = 0; i < 50; i++)); do
    any=0
    for pid; do [[ -e /proc/$pid ]] && any=1 && break; done
    ((any)) || return 0
    sleep 0.1
  done
}

teardown() {
  [[ -d $DIR ]] || return 0
  local d p
  local -a pids=()
  for d in imds rgw osd mon; do
    p=$(daemon_pid "$d") && pids+=("$p")
  done
  mapfile -t -O "${#pids[@]}" pids < <(lab_pids)
  # radosgw and the metadata stand-in first; the OSD is killed outright: memstore would
  # otherwise write every object it holds to disk on the way out, for nothing
  # (wait for these jobs by pid: in up's clean-up the daemons themselves are our children too)
  local j1 j2
  stop_daemon imds TERM 3 &
  j1=$!
  stop_daemon rgw TERM 3 &
  j2=$!
  wait "$j1" "$j2" || true
  stop_daemon osd KILL 3 &
  j1=$!
  stop_daemon mon TERM 5 &
  j2=$!
  wait "$j1" "$j2" || true
  kill_leftovers
  wait_gone ${pids[@]+"${pids[@]}"}
  findmnt -rn -o TARGET | awk -v d="$DIR/" 'index($0, d) == 1' | sort -r | while read -r t; do
    umount -l -- "$(printf '%b' "$t")" 2>/dev/null || log "warning: cannot unmount $t"
  done
  rm -rf --one-file-system "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/pki" "$DIR/rgw" "$DIR/crash" \
    "$DIR/ceph.conf" "$DIR/keyring" "$DIR/monmap" "$DIR/keys.env" "$DIR/keys.env.tmp" "$DIR/imds.json" \
    "$DIR/imds.json.tmp" "$DIR/ca.pem" "$DIR/other-ca.pem"
  rm -f "$DIR/s3.env" "$DIR/s3.env.tmp" "$DIR/subnet"
}

UP_DONE=0
up_exit() {
  local rc=$?
  ((UP_DONE)) && return 0
  if [[ ${S3_LAB_KEEP_ON_FAILURE:-} == 1 ]]; then
    log "up failed; leaving it as it is (S3_LAB_KEEP_ON_FAILURE=1): run s3.sh down --dir $DIR"
    return
  fi
  rm -rf "$DIR/last-failure"
  if [[ -d $DIR/log ]]; then cp -r "$DIR/log" "$DIR/last-failure" 2>/dev/null || true; fi
  log "up failed (exit $rc); tearing down; logs kept in $DIR/last-failure"
  teardown || true
}

# ---------------------------------------------------------------------------------------
# commands

cmd_up() {
  parse_dir_only "$@"
  ((EUID == 0)) || die "up needs root"
  local started=$SECONDS
  local -a missing=()
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || cmd_install
  command -v curl >/dev/null || die "curl not found"

  take_lock 60 s3.sh
  if [[ -e $DIR/s3.env || -e $DIR/ceph.conf || -d $DIR/run ]]; then
    if [[ -r $DIR/s3.env ]] && (
      # shellcheck disable=SC1091
      source "$DIR/s3.env"
      lab_is_up
    ); then
      log "S3 lab already up"
      print_summary
      return 0
    fi
    log "cleaning up the earlier S3 lab in $DIR"
    teardown
  fi
  rm -rf "$DIR/last-failure"
  rm -f "$DIR/subnet"
  set_dir "$DIR" # this run's subnet: $S3_LAB_SUBNET, not an earlier lab's
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon" "$DIR/osd" "$DIR/crash"
  printf '%s\n' "${S3_IP%.1}" >"$DIR/subnet"
  write_state starting
  trap 'up_exit' EXIT
  check_addresses_free

  log "certificates, keys, ceph.conf"
  make_pki &
  local pki_job=$!
  write_keys
  load_keys
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"

  log "starting the monitor and the OSD on $S3_IP"
  start_mon "$fsid"
  wait_port mon "$S3_IP" "${MON_PORTS[0]}" 20
  start_osd
  wait "$pki_job" || die "openssl failed making the lab certificates in $DIR/pki"
  wait_osd_up

  log "starting radosgw on https://$S3_IP:$S3_PORT"
  start_rgw
  write_imds_json
  start_imds
  wait_https

  log "users, buckets, bucket policy"
  create_user "$ADMIN_USER" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" "S3 lab admin (owns the buckets)" &
  local u1=$!
  create_user "$RESTRICTED_USER" "$S3_RESTRICTED_ACCESS_KEY" "$S3_RESTRICTED_SECRET_KEY" "S3 lab restricted user (bucket policy on $BUCKET)" &
  local u2=$!
  create_user "$ROLE_USER" "$S3_ROLE_ACCESS_KEY" "$S3_ROLE_SECRET_KEY" "S3 lab role user (served by the IMDS stand-in)" &
  local u3=$!
  local rc=0
  wait "$u1" || rc=1
  wait "$u2" || rc=1
  wait "$u3" || rc=1
  ((rc == 0)) || exit "$DIE_RC"
  set_bucket_quota
  make_buckets

  write_state up
  UP_DONE=1
  trap - EXIT
  log "up after $((SECONDS - started))s"
  print_summary
}

cmd_down() {
  parse_dir_only "$@"
  if [[ ! -d $DIR ]]; then
    log "nothing to stop: $DIR does not exist"
    return 0
  fi
  ((EUID == 0)) || die "down needs root"
  local started=$SECONDS
  take_lock 60 s3.sh
  teardown
  rm -rf "$DIR/last-failure"
  log "S3 lab in $DIR is down ($((SECONDS - started))s)"
}

cmd_status() {
  parse_dir_only "$@"
  load_state
  local d pid ok=1 s
  printf 'S3 lab %s: state %s\n' "$DIR" "$S3_LAB_STATE"
  for d in mon osd rgw imds; do
    if pid=$(daemon_pid "$d"); then
      printf '  %-5s up (pid %s, rss %s MiB)\n' "$d" "$pid" "$(awk '/^VmRSS/ {printf "%d", $2/1024}' "/proc/$pid/status" 2>/dev/null)"
    else
      printf '  %-5s down\n' "$d"
      ok=0
    fi
  done
  if s=$(timeout 15 ceph -c "$CONF" --connect-timeout 5 health 2>/dev/null) && [[ -n $s ]]; then
    printf '  ceph  %s\n' "$s"
    [[ $s == HEALTH_OK* ]] || ok=0
  else
    printf '  ceph  no answer from the monitor\n'
    ok=0
  fi
  if s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$DIR/ca.pem" "https://$S3_IP:$S3_PORT/") && [[ $s == 200 ]]; then
    printf '  S3    https://%s:%s answers (HTTP %s)\n' "$S3_IP" "$S3_PORT" "$s"
  else
    printf '  S3    https://%s:%s does not answer\n' "$S3_IP" "$S3_PORT"
    ok=0
  fi
  if s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "http://$IMDS_IP/latest/api/token") && [[ $s == 200 ]]; then
    printf '  IMDS  http://%s answers\n' "$IMDS_IP"
  else
    printf '  IMDS  http://%s does not answer\n' "$IMDS_IP"
    ok=0
  fi
  ((ok)) || exit 1
}

cmd_env() {
  parse_dir_only "$@"
  load_state
  [[ $S3_LAB_STATE == up ]] || die "the S3 lab in $DIR is not up (state $S3_LAB_STATE)"
  load_keys
  cat <<EOF
S3_LAB_DIR=$DIR
S3_ENDPOINT=$S3_IP:$S3_PORT
S3_ENDPOINT_URL=https://$S3_IP:$S3_PORT
S3_CA=$DIR/ca.pem
S3_OTHER_CA=$DIR/other-ca.pem
S3_REGION=$REGION
S3_BUCKET=$BUCKET
S3_VERSIONED_BUCKET=$VERSIONED_BUCKET
S3_LOCKED_BUCKET=$LOCKED_BUCKET
S3_KMS_KEY_ID=$KMS_KEY_ID
S3_ACCESS_KEY=$S3_ACCESS_KEY
S3_SECRET_KEY=$S3_SECRET_KEY
S3_RESTRICTED_ACCESS_KEY=$S3_RESTRICTED_ACCESS_KEY
S3_RESTRICTED_SECRET_KEY=$S3_RESTRICTED_SECRET_KEY
S3_ROLE_ACCESS_KEY=$S3_ROLE_ACCESS_KEY
S3_ROLE_SECRET_KEY=$S3_ROLE_SECRET_KEY
S3_ROLE_SESSION_TOKEN=$S3_ROLE_SESSION_TOKEN
IMDS_ENDPOINT=http://$IMDS_IP
IMDS_ROLE=$ROLE_NAME
IMDS_LOG=$DIR/log/imds-requests.log
EOF
}

# Commands that pass the rest through: an optional --dir first.
LEAD_DIR=""

cmd_aws() {
  local k=0 user=admin
  take_lead_dir "$@" || k=$?
  shift "$k"
  set_dir "$LEAD_DIR"
  case ${1:-} in
  --user) user=${2:?--user needs a value} && shift 2 ;;
  --user=*) user=${1#*=} && shift ;;
  esac
  load_state
  load_keys
  trap - ERR
  set +e
  lab_aws "$user" "$@"
}

cmd_tool() { # ceph | radosgw-admin
  local tool=$1 k=0
  shift
  take_lead_dir "$@" || k=$?
  shift "$k"
  set_dir "$LEAD_DIR"
  load_state
  CEPH_CONF=$CONF exec "$tool" -c "$CONF" "$@"
}

cmd_imds() { # start|stop
  parse_dir_only "${@:2}"
  load_state
  take_lock 60 s3.sh
  case $1 in
  stop)
    stop_daemon imds TERM 3
    log "IMDS stand-in stopped"
    ;;
  start)
    load_keys
    check_imds_free
    start_imds
    log "IMDS stand-in on http://$IMDS_IP"
    ;;
  esac
}

cmd_rgw() { # kill|start|pause|resume
  parse_dir_only "${@:2}"
  load_state
  take_lock 60 s3.sh
  local pid
  case $1 in
  pause | resume)
    pid=$(daemon_pid rgw) || die "radosgw is not running"
    if [ "$1" = pause ]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
    log "radosgw ${1}d (pid $pid)"
    ;;
  kill)
    stop_daemon rgw KILL 3
    log "radosgw killed"
    ;;
  start)
    daemon_pid rgw >/dev/null && die "radosgw is already running"
    start_rgw
    wait_https
    log "radosgw on https://$S3_IP:$S3_PORT"
    ;;
  esac
}

check_imds_free() {
  daemon_pid imds >/dev/null && return 0
  if ss -Htln "src $IMDS_IP:$IMDS_PORT" 2>/dev/null | grep -q .; then die "$IMDS_IP:$IMDS_PORT is already taken"; fi
}

main() {
  split_command S3_LAB_DIR "$@"
  set -- "${REST[@]}"
  case $CMD in
  install) cmd_install "$@" ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  aws) cmd_aws "$@" ;;
  ceph | radosgw-admin) cmd_tool "$CMD" "$@" ;;
  imds-stop) cmd_imds stop "$@" ;;
  imds-start) cmd_imds start "$@" ;;
  rgw-kill) cmd_rgw kill "$@" ;;
  rgw-start) cmd_rgw start "$@" ;;
  rgw-pause) cmd_rgw pause "$@" ;;
  rgw-resume) cmd_rgw resume "$@" ;;
  help | -h | --help) usage ;;
  *)
    usage >&2
    die "unknown command: $CMD"
    ;;
  esac
}

main "$@"
