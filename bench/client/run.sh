#!/usr/bin/env bash
# Client-side benchmarks for two issues, same-run ratios only, following
# /work/shared/BENCHMARKING.md (loopback, tmpfs, pinned crypto, interleaved
# runs, 1 warm-up + RUNS timed runs, medians and min–max). See docs/benchmarks.md.
#
#   copy   issue 9: a SIZE_MIB download from Ferry's SFTP service with
#          `ferry copy` vs OpenSSH's `sftp` client (both against the same service).
#   proxy  issue 7: curl passive download straight from an FTP server vs through
#          a Ferry ftp-proxy service (reverse mode) in front of it; backends
#          Ferry's FTP service and vsftpd.
#
# Usage (as root):  flock /tmp/ferry-bench.lock bench/client/run.sh [copy] [proxy]
#   env: RUNS=5, SIZE_MIB=1024, FERRY_BIN (default /tmp/bench-ferry-client, built
#        from the checkout when missing), FERRY_COMMIT (names its source in the
#        report), OUT=bench/results/<date>-client.md (raw samples beside it, .tsv)
# Needs: openssh-client sshpass curl python3 openssl, and vsftpd (installed, or
# fetched with apt-get download and unpacked into /tmp/fcbench/pkg).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-/work/shared/peers}
RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-1024}
FERRY_BIN=${FERRY_BIN:-/tmp/bench-ferry-client}
DATE=$(date +%F)
OUT=${OUT:-$REPO/bench/results/$DATE-client.md}

T=/tmp/fcbench           # configs, logs, samples, extracted packages
W=/dev/shm/fcbench       # homes and client files (tmpfs)
U=fcbench
PW='Fc-bench-pw-5170'
PEERHOME=$W/peer/$U
FERRYHOME=$W/ferry/$U
CLIENT=$W/client
SAMPLES=$T/samples.tsv

# ports, 127.0.0.1 only (bench/run uses 21xxx, bench/http 22xxx)
P_FERRY_FTP=23041  P_FERRY_SSH=23023  P_VSFTPD=23021   # passive 233xx (ferry), 231xx (vsftpd)
P_PROXY_FERRY=23051 P_PROXY_VSFTPD=23052               # proxy data ports 234xx, 235xx

SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(copy proxy)
want() { local s; for s in "${SECTIONS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (vsftpd and the cgroups need it)"
for t in curl sftp ssh sshpass python3 openssl; do command -v $t >/dev/null || die "$t missing (see docs/benchmarks.md)"; done

declare -A PID
CGV1=/sys/fs/cgroup/cpuacct; CGV2=/sys/fs/cgroup
cgdir() { if [ -d $CGV1 ]; then echo $CGV1/fcbench-$1; else echo $CGV2/fcbench-$1; fi; }
cg_make() { local d; d=$(cgdir "$1"); [ -d "$d" ] || mkdir "$d" || die "cgroup $d"; }
cg_start() { # cg_start NAME CMD...: CMD in the background inside cgroup NAME
  local name=$1 d; shift; cg_make "$name"; d=$(cgdir "$name")
  ( echo $BASHPID >"$d/cgroup.procs"; exec "$@" ) &
  PID[$name]=$!
}
cg_run() { # cg_run NAME CMD...: CMD in the foreground inside cgroup NAME
  local d; d=$(cgdir "$1"); shift
  ( echo $BASHPID >"$d/cgroup.procs"; exec "$@" )
}
cg_cpu_us() { local d; d=$(cgdir "$1"); if [ -f $d/cpuacct.usage ]; then echo $(( $(cat $d/cpuacct.usage) / 1000 )); else awk '/^usage_usec/{print $2}' $d/cpu.stat; fi; }
cg_procs() { cat "$(cgdir "$1")/cgroup.procs" 2>/dev/null; }
declare -A BASE
quiet_cpu() { # wait (<= 5 s) until the server's session processes are gone; print its CPU µs
  local name=$1 i
  for i in $(seq 1 50); do
    [ "$(cg_procs "$name" | wc -l)" -le "${BASE[$name]:-1}" ] && break
    sleep 0.1
  done
  cg_cpu_us "$name"
}
cleanup() {
  local n p
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  sleep 1
  for n in "${!PID[@]}"; do for p in $(cg_procs "$n"); do kill "$p" 2>/dev/null; done; done
  sleep 0.5
  for n in "${!PID[@]}" client; do rmdir "$(cgdir "$n")" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
renice -n -10 -p $$ >/dev/null

now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }
sample() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$SAMPLES"; }
wait_port() { local i; for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; die "port $1 not listening"; }

# ---------------------------------------------------------------- set-up
setup() {
  log "set-up: user $U, files ($SIZE_MIB MiB)"
  rm -rf "$W" "$T/ferry-data" "$T/proxy-data"; mkdir -p "$W/peer" "$W/ferry" "$CLIENT" "$T/certs"
  : >"$SAMPLES"; : >"$T/checks.md"
  id "$U" >/dev/null 2>&1 || useradd -M -d "$PEERHOME" -s /bin/sh "$U" || die useradd
  usermod -d "$PEERHOME" "$U"
  echo "$U:$PW" | chpasswd || die chpasswd
  mkdir -p "$PEERHOME" "$FERRYHOME"
  head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$CLIENT/big.bin"
  head -c 65536 /dev/urandom >"$CLIENT/fixed.bin"
  for h in "$PEERHOME" "$FERRYHOME"; do   # hard links: the same bytes in memory once
    ln "$CLIENT/big.bin" "$h/big.bin"; ln "$CLIENT/fixed.bin" "$h/fixed.bin"
  done
  chown -R "$U:$U" "$PEERHOME"
  chmod 755 "$W" "$W/peer" "$W/ferry"
  chmod 644 "$CLIENT"/*.bin
  if [ ! -s $T/certs/cert.pem ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
      -keyout $T/certs/key.pem -out $T/certs/cert.pem 2>/dev/null || die openssl
  fi
  chmod 644 $T/certs/*.pem
  cg_make client
  if [ ! -x "$FERRY_BIN" ]; then
    (cd "$REPO" && go build -o "$FERRY_BIN" ./cmd/ferry) || die "go build"
  fi
}

ferry_instance() { # ferry_instance DATADIR: init a data dir with the defender off
  local D=$1
  rm -rf "$D"; mkdir -p "$D"
  # thousands of logins from 127.0.0.1: the defender would throttle them
  printf 'defender:\n  enabled: false\nlog:\n  file: %s\n' "$D/ferry.log" >"$D/ferry.yaml"
  FERRY_ADMIN_PASSWORD=bench-admin-pw "$FERRY_BIN" init --no-default-services --data-dir "$D" >/dev/null 2>&1 || die "ferry init $D"
}

start_ferry() {
  local D=$T/ferry-data F=$FERRY_BIN
  log "starting Ferry: ftp $P_FERRY_FTP, sftp $P_FERRY_SSH (aes128-gcm, curve25519 only)"
  ferry_instance "$D"
  printf '%s\n' "$PW" | $F user add $U --password-stdin --home "$FERRYHOME" --data-dir $D >/dev/null || die "ferry user add"
  $F service add ftp --protocol ftp --listen 127.0.0.1:$P_FERRY_FTP --tls explicit \
     --cert $T/certs/cert.pem --key $T/certs/key.pem --option passive_ports=23300-23399 --data-dir $D >/dev/null || die "service ftp"
  # the server offers only the pinned algorithms, so ferry copy (which has no
  # cipher flag) and OpenSSH's sftp negotiate the same ones
  $F service add sftp --protocol sftp --listen 127.0.0.1:$P_FERRY_SSH \
     --option ciphers=aes128-gcm@openssh.com --option kex=curve25519-sha256 --data-dir $D >/dev/null || die "service sftp"
  cg_start ferry $F serve --data-dir $D >>$D/stdout.log 2>&1
  wait_port $P_FERRY_FTP; wait_port $P_FERRY_SSH
}

start_vsftpd() {
  local vs=/usr/sbin/vsftpd
  if [ ! -x $vs ]; then   # not installed (it conflicts with pure-ftpd/proftpd): unpack it privately
    vs=$T/pkg/root/usr/sbin/vsftpd
    if [ ! -x $vs ]; then
      mkdir -p $T/pkg && (cd $T/pkg && apt-get download vsftpd >/dev/null 2>&1 && dpkg-deb -x vsftpd_*.deb root) || die "vsftpd download"
    fi
    [ -f /etc/pam.d/vsftpd ] || dpkg-deb --fsys-tarfile $T/pkg/vsftpd_*.deb | tar -x -C / ./etc/pam.d/vsftpd
  fi
  VSFTPD=$vs
  log "starting vsftpd ($vs) on $P_VSFTPD"
  mkdir -p $T/vsftpd /var/run/vsftpd/empty
  sed -e "s/^listen_port=20021/listen_port=$P_VSFTPD/" -e 's/^pasv_min_port=20100/pasv_min_port=23100/' \
      -e 's/^pasv_max_port=20199/pasv_max_port=23199/' -e "s#/tmp/peers#$T#g" \
      "$PEERS/vsftpd.conf" >$T/vsftpd/vsftpd.conf
  cg_start vsftpd $vs $T/vsftpd/vsftpd.conf >$T/vsftpd/stdout.log 2>&1
  wait_port $P_VSFTPD
}

start_proxy() { # a second ferry serve, its own cgroup: the proxy's CPU apart from the backend's
  local D=$T/proxy-data F=$FERRY_BIN
  log "starting Ferry ftp-proxy services: $P_PROXY_FERRY -> ferry, $P_PROXY_VSFTPD -> vsftpd"
  ferry_instance "$D"
  # backend_tls=off: the client side is plain FTP, so is the server side
  # (the default auto would upgrade to TLS toward servers that offer AUTH TLS)
  $F service add proxy-ferry --protocol ftp-proxy --listen 127.0.0.1:$P_PROXY_FERRY --option mode=reverse \
     --option backend=127.0.0.1:$P_FERRY_FTP --option backend_tls=off --option tls=off \
     --option data_ports=23400-23499 --data-dir $D >/dev/null || die "service proxy-ferry"
  $F service add proxy-vsftpd --protocol ftp-proxy --listen 127.0.0.1:$P_PROXY_VSFTPD --option mode=reverse \
     --option backend=127.0.0.1:$P_VSFTPD --option backend_tls=off --option tls=off \
     --option data_ports=23500-23599 --data-dir $D >/dev/null || die "service proxy-vsftpd"
  cg_start proxy $F serve --data-dir $D >>$D/stdout.log 2>&1
  wait_port $P_PROXY_FERRY; wait_port $P_PROXY_VSFTPD
}

# ---------------------------------------------------------------- clients
SSHOPT=(-F /dev/null -o Ciphers=aes128-gcm@openssh.com -o KexAlgorithms=curve25519-sha256
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -o LogLevel=ERROR -o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password
        -o Compression=no)
SFTPURL=sftp://$U@127.0.0.1:$P_FERRY_SSH

# client CASE FILE DEST: one download of FILE to DEST, in the client cgroup; 0 when it worked
client() {
  local c=$1 file=$2 dest=$3 got rc
  case $c in
  sftp-tmpfs|sftp-null)
    printf 'get %s %s\n' "$file" "$dest" >$T/batch
    cg_run client sshpass -p "$PW" sftp -q "${SSHOPT[@]}" -P $P_FERRY_SSH -b $T/batch $U@127.0.0.1 >/dev/null ;;
  copy-default)   # as a user runs it: temporary name + rename, verify auto (size + SHA-256)
    (cd $T && cg_run client env FERRY_REMOTE_PASSWORD="$PW" "$FERRY_BIN" copy -q --progress none --insecure "$SFTPURL/$file" "$dest") ;;
  copy-raw|copy-null)   # the transfer alone: no temporary name, no verification
    (cd $T && cg_run client env FERRY_REMOTE_PASSWORD="$PW" "$FERRY_BIN" copy -q --progress none --insecure --no-temp --verify none "$SFTPURL/$file" "$dest") ;;
  ftp-*)
    local port
    case $c in
      ftp-ferry) port=$P_FERRY_FTP;; ftp-ferry-proxy) port=$P_PROXY_FERRY;;
      ftp-vsftpd) port=$P_VSFTPD;;   ftp-vsftpd-proxy) port=$P_PROXY_VSFTPD;;
    esac
    # passive (curl's default: EPSV, then PASV)
    got=$(cg_run client curl -sS --user "$U:$PW" -o "$dest" -w '%{size_download}' "ftp://127.0.0.1:$port/$file"); rc=$?
    [ $rc = 0 ] && [ "$got" = "$(stat -c %s "$CLIENT/$file")" ] ;;
  esac
}

dest_of() { case $1 in *-null|ftp-*) echo /dev/null;; *) echo "$CLIENT/out-$1.bin";; esac; }
servers_of() { # the cgroups whose CPU a case's sample records: server, proxy
  case $1 in
  sftp-*|copy-*|ftp-ferry) echo "ferry -";;
  ftp-ferry-proxy) echo "ferry proxy";;
  ftp-vsftpd) echo "vsftpd -";;
  ftp-vsftpd-proxy) echo "vsftpd proxy";;
  esac
}

# measure SECTION CASE KIND(big|fixed): one timed download + CPU, one sample line
measure() {
  local sec=$1 c=$2 kind=$3 file dest srv prx s0 s1 p0=0 p1=0 k0 k1 t0 t1
  [ $kind = big ] && file=big.bin || file=fixed.bin
  dest=$(dest_of $c)
  read -r srv prx <<<"$(servers_of $c)"
  [ "$dest" != /dev/null ] && rm -f "$dest"
  s0=$(quiet_cpu $srv); [ $prx != - ] && p0=$(quiet_cpu $prx)
  k0=$(cg_cpu_us client)
  t0=$(now_us)
  if ! client $c $file "$dest"; then log "FAILED: $c $kind"; return 1; fi
  t1=$(now_us)
  k1=$(cg_cpu_us client)
  s1=$(quiet_cpu $srv); [ $prx != - ] && p1=$(quiet_cpu $prx)
  [ "$dest" != /dev/null ] && rm -f "$dest"
  sample xfer $sec $c $kind $((t1 - t0)) $((k1 - k0)) $((s1 - s0)) $((p1 - p0))
}

# verify CASE: untimed, the downloaded bytes compared once with the source
verify() {
  local c=$1 dest=$CLIENT/check.bin
  rm -f $dest
  if client $c big.bin $dest && cmp -s $CLIENT/big.bin $dest; then
    echo "- $c: bytes identical" >>$T/checks.md
  else
    echo "- $c: BYTE CHECK FAILED" >>$T/checks.md; log "byte check failed: $c"
  fi
  rm -f $dest
}

run_cases() { # run_cases SECTION CASE...: checks, t_fixed, warm-up, RUNS interleaved
  local sec=$1 c i; shift
  log "$sec: byte checks"
  for c in "$@"; do verify $c; done
  log "$sec: t_fixed (64 KiB), $RUNS runs"
  for i in $(seq 1 "$RUNS"); do for c in "$@"; do measure $sec $c fixed; done; done
  log "$sec: warm-up + $RUNS runs of $SIZE_MIB MiB, interleaved"
  for c in "$@"; do client $c big.bin "$(dest_of $c)" || log "FAILED: warm-up $c"; rm -f "$CLIENT"/out-*.bin; done
  for i in $(seq 1 "$RUNS"); do
    for c in "$@"; do measure $sec $c big; done
    log "$sec: run $i/$RUNS done"
  done
}

copy_section() {
  local cases=(sftp-tmpfs copy-default copy-raw sftp-null)
  # can ferry copy write to /dev/null? (it fsyncs and stats the destination)
  if (cd $T && FERRY_REMOTE_PASSWORD=$PW "$FERRY_BIN" copy -q --progress none --insecure --no-temp --verify none \
        "$SFTPURL/fixed.bin" /dev/null) >$T/devnull.err 2>&1; then
    cases+=(copy-null); echo "- ferry copy to /dev/null works (--no-temp --verify none): measured as copy-null" >>$T/checks.md
  else
    echo "- ferry copy cannot write to /dev/null: \`$(head -1 $T/devnull.err)\`; the comparison is tmpfs file vs tmpfs file (removed before every run, so both clients write fresh tmpfs memory)" >>$T/checks.md
  fi
  local line
  line=$(sshpass -p "$PW" ssh -v "${SSHOPT[@]}" -p $P_FERRY_SSH $U@127.0.0.1 true 2>&1 | grep -E 'kex: algorithm|kex: host key|kex: server->client cipher' | sed 's/^debug1: //' | tr '\n' ';')
  echo "- OpenSSH sftp against Ferry negotiated: ${line:-?}" >>$T/checks.md
  echo "- ferry copy: no cipher flag; the service offers only aes128-gcm@openssh.com and curve25519-sha256 (\`ciphers\`, \`kex\` options), and Go's client lists aes128-gcm first anyway" >>$T/checks.md
  line=$(cd $T && FERRY_REMOTE_PASSWORD=$PW "$FERRY_BIN" copy --progress none --insecure "$SFTPURL/fixed.bin" $CLIENT/out-probe.bin 2>&1 | head -1)
  rm -f $CLIENT/out-probe.bin
  echo "- ferry copy with default flags prints: \`${line:-?}\`" >>$T/checks.md
  run_cases copy "${cases[@]}"
}

proxy_section() {
  run_cases proxy ftp-ferry ftp-ferry-proxy ftp-vsftpd ftp-vsftpd-proxy
  grep -h 'data connection closed' $T/proxy-data/ferry.log 2>/dev/null | tail -1 | sed 's/^/- last proxy log line: /' | cut -c1-400 >>$T/checks.md
}

# ---------------------------------------------------------------- report
mkdir -p $T
cat >$T/report.py <<'EOF'
# report.py SAMPLES SIZE_BYTES: markdown tables (median (min–max), ratio of medians)
import sys, statistics as st
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
size, FIX = int(sys.argv[2]), 65536
S = {}
for r in rows:
    if r[0] != 'xfer': continue
    _, sec, c, kind, t, kc, sc, pc = r
    S.setdefault((c, kind), []).append([int(t) / 1e6, int(kc) / 1e6, int(sc) / 1e6, int(pc) / 1e6])
med = st.median
def fmt(v, nd):
    if not v: return '–'
    f = f'{{:.{nd}f}}'
    return f.format(v[0]) if len(v) == 1 else f'{f.format(med(v))} ({f.format(min(v))}–{f.format(max(v))})'
def stats(c):
    big, fx = S.get((c, 'big'), []), S.get((c, 'fixed'), [])
    if not big or not fx: return None
    gib = (size - FIX) / 2**30
    tf = med([x[0] for x in fx]); cpuf = [med([x[i] for x in fx]) for i in (1, 2, 3)]
    return {'mbs': [(size - FIX) / (x[0] - tf) / 1e6 for x in big],
            'client': [max(x[1] - cpuf[0], 0) / gib for x in big],
            'server': [max(x[2] - cpuf[1], 0) / gib for x in big],
            'proxy': [max(x[3] - cpuf[2], 0) / gib for x in big], 'tf': tf}
out = []
def row(metric, a, an, b, bn, key, nd, better):
    sa, sb = stats(a), stats(b)
    if not sa or not sb: return
    va, vb = sa[key], sb[key]
    ratio = f'{med(va) / med(vb):.2f}' if med(vb) else '–'
    out.append(f'| {metric} | {an} | {fmt(va, nd)} | {bn} | {fmt(vb, nd)} | {ratio} | {better} |')
hdr = ['| Metric | A | A value | B | B value | A/B | better |', '|---|---|---|---|---|---|---|']
def section(title, lines):
    global out
    if lines: print(f'### {title}\n'); print('\n'.join(hdr + lines)); print()
# issue 9
out = []
for a, an in [('copy-default', '`ferry copy` (defaults: temp name + rename, verify auto)'),
              ('copy-raw', '`ferry copy --no-temp --verify none`')]:
    row('SFTP download to a tmpfs file, MB/s', a, an, 'sftp-tmpfs', 'OpenSSH `sftp` get', 'mbs', 0, 'higher')
row('SFTP download to /dev/null, MB/s', 'copy-null', '`ferry copy --no-temp --verify none`', 'sftp-null', 'OpenSSH `sftp` get', 'mbs', 0, 'higher')
row('SFTP download, tmpfs file vs /dev/null, MB/s', 'sftp-tmpfs', 'OpenSSH `sftp` → tmpfs', 'sftp-null', 'OpenSSH `sftp` → /dev/null', 'mbs', 0, '(reference: cost of fresh tmpfs memory)')
for a, an in [('copy-default', '`ferry copy` (defaults)'), ('copy-raw', '`ferry copy --no-temp --verify none`')]:
    row('client CPU-s/GiB (tmpfs file)', a, an, 'sftp-tmpfs', 'OpenSSH `sftp`+`ssh`', 'client', 2, 'lower')
    row('Ferry SFTP server CPU-s/GiB (tmpfs file)', a, an, 'sftp-tmpfs', 'OpenSSH `sftp`', 'server', 2, 'lower')
copy_lines = out
# issue 7
out = []
for b in ['ferry', 'vsftpd']:
    bn = 'Ferry FTP' if b == 'ferry' else 'vsftpd'
    row(f'FTP passive download to /dev/null, backend {bn}, MB/s', f'ftp-{b}-proxy', 'through Ferry ftp-proxy', f'ftp-{b}', 'direct', 'mbs', 0, 'higher')
for b in ['ferry', 'vsftpd']:
    bn = 'Ferry FTP' if b == 'ferry' else 'vsftpd'
    row(f'client (curl) CPU-s/GiB, backend {bn}', f'ftp-{b}-proxy', 'through Ferry ftp-proxy', f'ftp-{b}', 'direct', 'client', 2, 'lower')
    row(f'backend server CPU-s/GiB, backend {bn}', f'ftp-{b}-proxy', 'through Ferry ftp-proxy', f'ftp-{b}', 'direct', 'server', 2, 'lower')
proxy_lines = out
for b in ['ferry', 'vsftpd']:
    s = stats(f'ftp-{b}-proxy')
    if s: proxy_lines.append(f'| proxy process CPU-s/GiB, backend {"Ferry FTP" if b == "ferry" else "vsftpd"} | Ferry ftp-proxy | {fmt(s["proxy"], 2)} | – | – | – | lower |')
section('Issue 9: `ferry copy` vs OpenSSH `sftp`, both downloading from Ferry\'s SFTP service', copy_lines)
section('Issue 7: curl through Ferry\'s ftp-proxy (reverse mode) vs direct', proxy_lines)
tf = [(c, stats(c)['tf']) for c, k in sorted(S) if k == 'fixed' and stats(c)]
if tf: print('t_fixed (64 KiB, median s): ' + ', '.join(f'{c} {t:.3f}' for c, t in tf))
EOF

# ---------------------------------------------------------------- main
START=$(date +%s); LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
setup
start_ferry
want proxy && { start_vsftpd; start_proxy; }
sleep 1
for s in "${!PID[@]}"; do
  for p in $(cg_procs $s); do renice -n -10 -p "$p" >/dev/null; done
  BASE[$s]=$(cg_procs $s | wc -l)
done
want copy && copy_section
want proxy && proxy_section
END=$(date +%s); LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

TABLE=$(python3 $T/report.py $SAMPLES $((SIZE_MIB * 1048576)))
COMMIT=${FERRY_COMMIT:-"working tree at $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null)"}
mkdir -p "$(dirname "$OUT")"
{
  echo "# Client-side benchmarks (ferry copy, ftp-proxy), $DATE"
  echo
  echo "Produced by \`bench/client/run.sh ${SECTIONS[*]}\`. Ferry: $FERRY_BIN built $(stat -c %y "$FERRY_BIN" | cut -c1-16) from $COMMIT."
  echo "$(nproc) cores, $(uname -r); load average at start $LOAD0, at end $LOAD1 (shared, noisy machine). Wall time $(( (END - START) / 60 )) min."
  echo "Method: /work/shared/BENCHMARKING.md. Big file $SIZE_MIB MiB on /dev/shm, 1 warm-up + $RUNS timed runs per case, cases interleaved run by run;"
  echo "net rate = (size − 64 KiB) / (t_big − t_fixed), t_fixed the median time of the same command moving a 64 KiB file;"
  echo "CPU per GiB net of the 64 KiB command's (client: the client's whole process tree; server/proxy: their cgroups)."
  echo "Values: median (min–max); A/B is the ratio of medians. Ferry's SFTP service offers only aes128-gcm@openssh.com / curve25519-sha256;"
  echo "OpenSSH \`sftp\` pins the same (\`-o Ciphers=… -o KexAlgorithms=…\`, password through sshpass). Ferry instances run with the defender off."
  echo "The proxy is a second \`ferry serve\` (own cgroup) with two ftp-proxy services, mode=reverse, backend_tls=off, tls=off."
  echo
  echo "$TABLE"
  echo
  echo "## Checks"
  cat $T/checks.md
  echo
  echo "## Versions"
  echo "- openssh-client $(dpkg-query -W -f '${Version}' openssh-client 2>/dev/null), curl $(curl --version | head -1 | cut -d' ' -f2), vsftpd ${VSFTPD:-not started} $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || dpkg-deb -f $T/pkg/vsftpd_*.deb Version 2>/dev/null)"
} >"$OUT"
cp $SAMPLES "${OUT%.md}.tsv"
echo "$TABLE"
log "wrote $OUT (raw samples: ${OUT%.md}.tsv)"
