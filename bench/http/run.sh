#!/usr/bin/env bash
# Side-by-side HTTP benchmark: Ferry's http service vs Apache httpd mod_dav
# (WebDAV PUT/GET) and nginx (static GET), per shared/BENCHMARKING.md:
# loopback, files on tmpfs, same curl client, downloads to /dev/null,
# interleaved runs, medians. Needs root, apache2, nginx, apache2-utils, curl.
# Usage: bench/http/run.sh [runs] (default 5). SIZE_MB (default 1024) sets the
# big file's size; OUT (default bench/http/results-DATE.md) receives the table;
# FERRY_BIN (default: built from the checkout) is the ferry binary to measure
# and FERRY_REV the revision it was built from (shown in the table).
set -euo pipefail
RUNS=${1:-5}
SIZE_MB=${SIZE_MB:-1024}
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
PEERS=${PEERS:-/work/shared/peers}
W=/dev/shm/httpbench; T=/tmp/davpeer
PW=bench-pw-1
FERRY_PORT=22082
cleanup() {
  [ -f $T/run/apache2.pid ] && kill "$(cat $T/run/apache2.pid)" 2>/dev/null || true
  [ -f $T/run/nginx.pid ] && kill "$(cat $T/run/nginx.pid)" 2>/dev/null || true
  [ -n "${FERRY_PID:-}" ] && kill "$FERRY_PID" 2>/dev/null || true
  rm -rf /dev/shm/davpeer "$W"
}
trap cleanup EXIT INT TERM
rm -rf /dev/shm/davpeer "$W" "$T"
mkdir -p /dev/shm/davpeer/home /dev/shm/davpeer/lock $T/run $T/logs $T/nginx "$W/client"
chown -R www-data:www-data /dev/shm/davpeer
htpasswd -cbm $T/htpasswd xbench "$PW" >/dev/null 2>&1
apache2 -f "$PEERS/apache-dav.conf" -k start
nginx -c "$PEERS/nginx.conf"

if [ -n "${FERRY_BIN:-}" ]; then cp "$FERRY_BIN" "$W/ferry"; else go build -o "$W/ferry" "$REPO/cmd/ferry"; fi
export FERRY_ADMIN_PASSWORD=bench-admin
"$W/ferry" init --no-default-services --data-dir "$W/data" >/dev/null
echo "$PW" | "$W/ferry" user add xbench --password-stdin --data-dir "$W/data" >/dev/null
"$W/ferry" service add web --protocol http --listen 127.0.0.1:$FERRY_PORT --data-dir "$W/data" >/dev/null
"$W/ferry" serve --data-dir "$W/data" >"$W/ferry.log" 2>&1 &
FERRY_PID=$!
for i in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$FERRY_PORT/" && break; sleep 0.2; done
curl -s -o /dev/null "http://127.0.0.1:$FERRY_PORT/" || { echo "ferry did not start:"; cat "$W/ferry.log"; exit 1; }

FH="$W/data/files/xbench"; AH=/dev/shm/davpeer/home
head -c "${SIZE_MB}M" /dev/urandom > "$W/client/big.bin"
head -c 64K /dev/urandom > "$W/client/small.bin"
for d in "$FH" "$AH"; do
  cp "$W/client/big.bin" "$d/big.bin"; cp "$W/client/small.bin" "$d/small.bin"
  mkdir -p "$d/s"; for i in $(seq 1 200); do cp "$W/client/small.bin" "$d/s/f$i.bin"; done
done
chown -R www-data:www-data "$AH"
FERRY="http://127.0.0.1:$FERRY_PORT/dav"; APACHE="http://127.0.0.1:22080"; NGINX="http://127.0.0.1:22081"
C=(curl -s -f -u "xbench:$PW")

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { echo "scale=0; ($SIZE_MB * 1048576 - 65536) / ($1 - $2) / 1000000" | bc; }

declare -A R
measure() { # name fixed-cmd big-cmd
  local name=$1; shift
  local fixed=() big=() mode=fixed
  for a in "$@"; do if [ "$a" = "--" ]; then mode=big; continue; fi; if [ $mode = fixed ]; then fixed+=("$a"); else big+=("$a"); fi; done
  local tf tb
  tf=$(for i in $(seq 1 "$RUNS"); do t "${fixed[@]}"; done | median)
  t "${big[@]}" >/dev/null # warm-up
  tb=$(for i in $(seq 1 "$RUNS"); do t "${big[@]}"; done | median)
  R[$name]=$(rate "$tb" "$tf")
}
small() { # base: 8 clients x 25 keep-alive GETs of 64 KiB
  local base=$1 s e
  s=$(date +%s.%N)
  local pids=()
  for c in $(seq 0 7); do
    urls=(); for i in $(seq $((c*25+1)) $((c*25+25))); do urls+=("$base/s/f$i.bin" -o /dev/null); done
    "${C[@]}" "${urls[@]}" &
    pids+=($!)
  done
  wait "${pids[@]}" # not a bare wait: ferry serve is a child too
  e=$(date +%s.%N)
  echo "scale=0; 200 / ($e - $s)" | bc
}

measure ferry_get  "${C[@]}" -o /dev/null "$FERRY/small.bin" -- "${C[@]}" -o /dev/null "$FERRY/big.bin"
measure apache_get "${C[@]}" -o /dev/null "$APACHE/small.bin" -- "${C[@]}" -o /dev/null "$APACHE/big.bin"
measure nginx_get  "${C[@]}" -o /dev/null "$NGINX/small.bin" -- "${C[@]}" -o /dev/null "$NGINX/big.bin"
measure ferry_put  "${C[@]}" -T "$W/client/small.bin" "$FERRY/up-small.bin" -- "${C[@]}" -T "$W/client/big.bin" "$FERRY/up.bin"
measure apache_put "${C[@]}" -T "$W/client/small.bin" "$APACHE/up-small.bin" -- "${C[@]}" -T "$W/client/big.bin" "$APACHE/up.bin"
small "$FERRY" >/dev/null; small "$APACHE" >/dev/null
fs=$(for i in $(seq 1 "$RUNS"); do small "$FERRY"; done | median)
as=$(for i in $(seq 1 "$RUNS"); do small "$APACHE"; done | median)
ns=$(for i in $(seq 1 "$RUNS"); do small "$NGINX"; done | median)
cmp "$W/client/big.bin" "$FH/up.bin" && cmp "$W/client/big.bin" "$AH/up.bin"
"${C[@]}" "$FERRY/big.bin" | cmp - "$W/client/big.bin"

OUT=${OUT:-$REPO/bench/http/results-$(date -u +%F).md}
{
printf '# HTTP benchmark %s\n\n' "$(date -u '+%F %H:%M UTC')"
printf 'Ferry %s (%s), %s, %s; %s runs (median), big file %s MiB, 200 × 64 KiB small files;\n' \
  "${FERRY_REV:-$(git -C "$REPO" rev-parse --short HEAD)}" "$(go version | cut -d' ' -f3)" "$(apache2 -v | head -1 | cut -d' ' -f3)" \
  "$(nginx -v 2>&1 | cut -d' ' -f3)" "$RUNS" "$SIZE_MB"
printf 'loopback, tmpfs, curl %s, downloads to /dev/null, %s cores, load %s.\n\n' \
  "$(curl -V | head -1 | cut -d' ' -f2)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| metric | Ferry | Apache mod_dav | nginx | Ferry/Apache | Ferry/nginx |\n|---|---|---|---|---|---|\n'
printf "| GET ${SIZE_MB} MiB MB/s | %s | %s | %s | %.2f | %.2f |\n" "${R[ferry_get]}" "${R[apache_get]}" "${R[nginx_get]}" \
  "$(echo "${R[ferry_get]} / ${R[apache_get]}" | bc -l)" "$(echo "${R[ferry_get]} / ${R[nginx_get]}" | bc -l)"
printf "| WebDAV PUT ${SIZE_MB} MiB MB/s | %s | %s | – | %.2f | – |\n" "${R[ferry_put]}" "${R[apache_put]}" \
  "$(echo "${R[ferry_put]} / ${R[apache_put]}" | bc -l)"
printf '| 8 clients × 25 GETs of 64 KiB, files/s | %s | %s | %s | %.2f | %.2f |\n' "$fs" "$as" "$ns" \
  "$(echo "$fs / $as" | bc -l)" "$(echo "$fs / $ns" | bc -l)"
} | tee "$OUT"
