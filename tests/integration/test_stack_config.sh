#!/usr/bin/env bash
# The local stack's configuration, without starting it (a few seconds):
#  - `scripts/stack config` renders nginx.conf and prometheus.yml that nginx -t and promtool accept;
#  - nginx's body-size limits, timeouts and retry policy equal the Kubernetes Ingress's annotations;
#  - upstream keepalive, passive health checks, loopback-only listeners, every path under the run dir;
#  - the rules Prometheus loads are production's, only with for:/interval windows capped;
#  - STACK_BASE_PORT lays the ports out as documented; clear errors for a taken port, a missing
#    binary, an unknown replica, a template token without a value, bad durations and annotations.
set -uo pipefail
ROOT=${TREESERVE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${TREESERVE_BIN:-$ROOT/build/treeserve}
STACK="$ROOT/scripts/stack"
CONF="$ROOT/deploy/local/stackconf.py"
INGRESS="$ROOT/deploy/k8s/base/ingress.yaml"
RULES="$ROOT/deploy/monitoring/prometheus-rules.yml"
work=$(mktemp -d)
holder=""
cleanup() { [ -z "$holder" ] || kill "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fails=0
ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }
expect() { # description, then a command that must succeed
  local what="$1"; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
for v in $(env | grep -o '^STACK_[A-Z_]*'); do unset "$v"; done

# --- render into a fresh run directory
export STACK_DIR="$work/run" TREESERVE_BIN="$BIN"
if ! out=$("$STACK" config 2>&1); then bad "scripts/stack config failed: $out"; exit 1; fi
ok "scripts/stack config renders the configuration"
NC="$STACK_DIR/nginx/nginx.conf"; PC="$STACK_DIR/prometheus/prometheus.yml"; RC="$STACK_DIR/prometheus/rules.yml"
. "$STACK_DIR/stack.env"
expect "nginx -t accepts the rendered nginx.conf" \
  /usr/sbin/nginx -t -q -p "$STACK_DIR/nginx" -c nginx.conf -e "$work/nginx-t.log"
expect "promtool accepts the rendered prometheus.yml and its rules" \
  sh -c "promtool check config '$PC' >/dev/null"

# --- equal to the Ingress
ann() { sed -n "s/^ *nginx.ingress.kubernetes.io\/$1: *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p" "$INGRESS"; }
directive() { sed -n "s/^ *$1 \(.*\);$/\1/p" "$NC"; }
same() { # nginx directive, ingress annotation, value transform (sec = add "s")
  local d a
  d=$(directive "$1"); a=$(ann "$2")
  [ "$3" = sec ] && [ -n "$a" ] && a="${a}s"
  if [ -n "$a" ] && [ "$d" = "$a" ]; then ok "$1 $d equals the Ingress's $2"
  else bad "$1 is '$d' but the Ingress's $2 is '$a'"; fi
}
same client_max_body_size proxy-body-size raw
same client_body_buffer_size client-body-buffer-size raw
same proxy_connect_timeout proxy-connect-timeout sec
same proxy_send_timeout proxy-send-timeout sec
same proxy_read_timeout proxy-read-timeout sec
same proxy_next_upstream proxy-next-upstream raw
same proxy_next_upstream_tries proxy-next-upstream-tries raw
same proxy_next_upstream_timeout proxy-next-upstream-timeout sec
expect "the body limit is 8 MiB, the server's limit" [ "$(directive client_max_body_size)" = 8m ]
expect "nginx retries POSTs on error, timeout, 502 and 503" \
  sh -c "directive() { :; }; grep -Eq '^ *proxy_next_upstream error timeout( [a-z_0-9]+)* http_502 http_503( [a-z_0-9]+)* non_idempotent;' '$NC'"
loc=$(sed -n 's/^ *location ~ "\(.*\)" {$/\1/p' "$NC")
for path in $(sed -n 's/^ *- path: *\(\/[^ ]*\)$/\1/p' "$INGRESS"); do
  expect "the Ingress routes $path and so does nginx" sh -c "echo '$loc' | grep -qF '$path(?:/|\$)'"
done
expect "nginx routes nothing else (one location, $loc)" [ "$(grep -c '^ *location ' "$NC")" -eq 1 ]

# --- load balancer settings
n=$(grep -Ec '^ *server 127\.0\.0\.1:[0-9]+ max_fails=[1-9][0-9]* fail_timeout=[0-9]+s;' "$NC")
expect "3 upstream servers with max_fails/fail_timeout passive health checks ($n)" [ "$n" -eq 3 ]
expect "upstream keepalive with HTTP/1.1 and no Connection header" \
  sh -c "grep -Eq '^ *keepalive [0-9]+;' '$NC' && grep -q 'proxy_http_version 1.1;' '$NC' && grep -q 'proxy_set_header Connection \"\";' '$NC'"
expect "nginx listens on 127.0.0.1 only" sh -c "! grep -E '^ *listen ' '$NC' | grep -v 'listen 127\.0\.0\.1:'"
# Every directive that names a file names one under the run directory; nothing is included from /etc.
paths=$(grep -vE '^ *#' "$NC" | awk '$1 ~ /^(pid|error_log|access_log|[a-z_]+_temp_path|include|load_module|root|alias)$/ { print $2 }'
        sed -n 's/^ *- \(\/.*\)$/\1/p' "$PC")
expect "every file nginx and prometheus use is under the run directory ($(echo "$paths" | wc -l) paths)" \
  sh -c "[ -n '$paths' ] && ! echo '$paths' | grep -v '^$STACK_DIR/' && ! grep -Eq '^ *(include|load_module) ' '$NC'"
expect "pid file, temp paths and logs are under the run directory" \
  sh -c "grep -q '^pid $STACK_DIR/' '$NC' && [ \$(grep -c '_temp_path $STACK_DIR/' '$NC') -eq 5 ] && grep -q '^error_log $STACK_DIR/' '$NC'"

# --- prometheus: every replica, short intervals, production's rules
for p in $REPLICA_PORTS; do
  expect "prometheus scrapes replica 127.0.0.1:$p" grep -q "'127.0.0.1:$p'" "$PC"
done
expect "scrape and evaluation every 1s" sh -c "grep -q 'scrape_interval: 1s' '$PC' && grep -q 'evaluation_interval: 1s' '$PC'"
expect "the scrape job is named like production's (matches job=~\"treeserve.*\")" grep -q 'job_name: treeserve$' "$PC"
prod=$(python3 "$CONF" alert-for "$RULES") && copy=$(python3 "$CONF" alert-for "$RC")
want=$(echo "$prod" | awk '{ print $1, ($2 > 10 ? 10 : $2) }')
expect "the loaded rules have production's alerts, for: windows capped at 10s" [ "$copy" = "$want" ]
expect "the production rules have a replica-down alert on up == 0 with a for: window" \
  sh -c "grep -A2 'alert: TreeserveReplicaDown' '$RULES' | grep -q 'up{.*} == 0' && echo '$prod' | grep -q '^TreeserveReplicaDown [1-9]'"
expect "the copy says it was generated and what changed" \
  sh -c "head -5 '$RC' | grep -q GENERATED && grep -q '^#   alert TreeserveReplicaDown: for 2m -> 10s' '$RC'"
diff <(grep -vE '^#|^ *(for|interval):' "$RC" | python3 -c 'import sys; print(sys.stdin.read().count("alert:"))') \
     <(grep -cE '^ *- alert:' "$RULES") >/dev/null && ok "same number of alerting rules in the copy" || bad "alert count differs"

# --- STACK_BASE_PORT layout
base=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  b=$((15000 + RANDOM % 15000))  # below the ephemeral range (32768+): nothing else grabs these
  python3 "$CONF" check-ports $b $((b + 1)) $((b + 2)) $((b + 3)) $((b + 4)) 2>/dev/null && { base=$b; break; }
done
if [ -n "$base" ]; then
  STACK_DIR="$work/based" STACK_BASE_PORT=$base "$STACK" config >/dev/null 2>&1
  . "$work/based/stack.env"
  expect "STACK_BASE_PORT=$base: nginx $base, prometheus $((base + 1)), replicas from $((base + 2))" \
    [ "$NGINX_PORT $PROM_PORT $REPLICA_PORTS" = "$base $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4))" ]
  # A taken port is refused by name.
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' $((base + 3)) &
  holder=$!
  sleep 0.5
  out=$(STACK_DIR="$work/taken" STACK_BASE_PORT=$base "$STACK" config 2>&1) && bad "a taken port was accepted" ||
    { echo "$out" | grep -q "port $((base + 3)) " && ok "a taken STACK_BASE_PORT range is refused naming the port" || bad "unclear error (want port $((base + 3))): $out"; }
  kill "$holder"; holder=""
else
  bad "found no 5 free consecutive ports to test STACK_BASE_PORT"
fi

# --- clear errors
out=$(STACK_DIR="$work/nobin" TREESERVE_BIN=/nonexistent/treeserve "$STACK" up 2>&1) && bad "up with a missing binary succeeded" ||
  { echo "$out" | grep -q '/nonexistent/treeserve is not an executable' && ok "up names a missing TREESERVE_BIN" || bad "unclear: $out"; }
mkdir -p "$work/foreign/models"; touch "$work/foreign/models/keep"
out=$(STACK_DIR="$work/foreign" "$STACK" config 2>&1) && bad "config used a directory it did not create" ||
  { echo "$out" | grep -q 'is not a stack run directory' && [ -f "$work/foreign/models/keep" ] &&
    ok "a non-empty STACK_DIR the stack did not create is refused and left alone" || bad "unclear: $out"; }
out=$(STACK_DIR="$work/none" "$STACK" status 2>&1) && bad "status without a stack succeeded" ||
  { echo "$out" | grep -q 'no stack in' && ok "status without a stack says so" || bad "unclear: $out"; }
out=$(STACK_DIR="$work/none" "$STACK" down 2>&1) && echo "$out" | grep -q 'nothing to stop' &&
  ok "down without a stack is a no-op" || bad "down without a stack: $out"
out=$("$STACK" stop-replica 7 2>&1) && bad "stop-replica 7 succeeded" ||
  { echo "$out" | grep -q 'replica number 1..3' && ok "stop-replica 7 is refused (3 replicas)" || bad "unclear: $out"; }
out=$("$STACK" frobnicate 2>&1) && bad "unknown subcommand accepted" || ok "an unknown subcommand prints usage and fails"

printf 'x @UNSET@ y\n' >"$work/t.tmpl"
out=$(python3 "$CONF" render "$work/t.tmpl" "$work/t.out" OTHER=1 2>&1) && bad "render left a token" ||
  { echo "$out" | grep -q '@UNSET@ has no value' && ok "a template token without a value is an error" || bad "unclear: $out"; }
cat >"$work/r.yml" <<'EOF'
groups:
  - name: g
    interval: 30s
    rules:
      - alert: Long
        expr: up == 0
        for: 1h30m
      - alert: Short
        expr: up == 0
        for: 5s
EOF
python3 "$CONF" rules "$work/r.yml" "$work/r.out" 10s 1s >/dev/null
expect "rules: 1h30m -> 10s, 5s kept, group interval 30s -> 1s" \
  sh -c "[ \"\$(python3 '$CONF' alert-for '$work/r.out')\" = 'Long 10
Short 5' ] && grep -q '^  interval: 1s' '$work/r.out'"
sed -i 's/for: 5s/for: 5 minutes/' "$work/r.yml"
out=$(python3 "$CONF" rules "$work/r.yml" "$work/r.out" 10s 1s 2>&1) && bad "a bad duration was accepted" ||
  { echo "$out" | grep -q "r.yml: rule Short for: \"5 minutes\" is not a Prometheus duration" && ok "a bad for: names file, rule and value" || bad "unclear: $out"; }
sed 's/proxy-read-timeout: "30"/proxy-read-timeout: "30 sec"/' "$INGRESS" >"$work/ing.yaml"
out=$(python3 "$CONF" ingress "$work/ing.yaml" 2>&1) && bad "a bad timeout annotation was accepted" ||
  { echo "$out" | grep -q 'proxy-read-timeout: "30 sec" is not a number of seconds' && ok "a bad annotation names file, key and value" || bad "unclear: $out"; }
out=$(STACK_DIR="$work/noing" STACK_INGRESS="$work/missing.yaml" "$STACK" config 2>&1) && bad "missing Ingress accepted" ||
  { echo "$out" | grep -q 'missing.yaml is missing' && ok "a missing Ingress manifest is an error, not silent defaults" || bad "unclear: $out"; }

echo
[ "$fails" -eq 0 ] && echo "PASSED" || echo "FAILED: $fails"
[ "$fails" -eq 0 ]
