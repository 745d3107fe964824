#!/usr/bin/env bash
# ThreadSanitizer run of the server tests that reload models and shut down
# while serving. Builds treeserve with TSan (`make TSAN=1 BUILD=$TSAN_BUILD`,
# default build-tsan) and runs against it, with TREESERVE_BIN pointing at the
# TSan binary:
#   - tests/http/test_serve_cli.py   SIGHUP reload of a repository under load
#   - tests/http/test_shutdown.py    SIGTERM with requests in flight, drain
#   - tests/http/test_errors_limits.py  connection limits, timeouts and the
#     slow-client reaper thread
#   - tests/harden/tsan_reload_load.py  new versions via SIGHUP and the poll
#     thread, a version removed, repository API unload/load, SIGTERM, all
#     while 4 clients send requests
# Every TSan report of any server process is written to a log file
# (TSAN_OPTIONS log_path); the test fails if there is any, and prints them.
set -uo pipefail
root="${TREESERVE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$root"
build="${TSAN_BUILD:-build-tsan}"
echo "building the ThreadSanitizer server (make TSAN=1 BUILD=$build)"
make -s -j2 TSAN=1 BUILD="$build" all >/dev/null || { echo "FAIL: TSan build"; exit 1; }
bin="$root/$build/treeserve"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# halt_on_error=0: keep serving so that one report does not hide the next;
# every report lands in $logs/tsan.<pid>.
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4:log_path=$logs/tsan"
export TREESERVE_BIN="$bin" TREESERVE_SRC="$root"
fail=0

# Negative control: a deliberately racy program must leave a report where we
# look for them, or this test could never fail.
cat >"$logs/canary.c" <<'C'
#include <pthread.h>
static int shared;
static void *bump(void *arg) { (void)arg; shared++; return 0; }
int main(void) {
  pthread_t a, b;
  pthread_create(&a, 0, bump, 0);
  pthread_create(&b, 0, bump, 0);
  pthread_join(a, 0);
  pthread_join(b, 0);
  return shared == 42;
}
C
cc -fsanitize=thread -g -O1 -pthread -o "$logs/canary" "$logs/canary.c" && { "$logs/canary" || true; }
if grep -q "WARNING: ThreadSanitizer: data race" "$logs"/tsan.* 2>/dev/null; then
  echo "ok   negative control: a racy program is reported"
  rm -f "$logs"/tsan.*
else
  echo "FAIL: the TSan negative control produced no report"; fail=1
fi

for t in tests/http/test_serve_cli.py tests/http/test_shutdown.py tests/http/test_errors_limits.py tests/harden/tsan_reload_load.py; do
  if [ ! -f "$t" ]; then echo "FAIL: $t is missing"; fail=1; continue; fi
  t0=$(date +%s)
  if timeout 600 python3 "$t" >"$logs/out" 2>&1; then
    echo "ok   $t under TSan ($(( $(date +%s) - t0 ))s): $(tail -n 1 "$logs/out")"
  else
    echo "FAIL $t under TSan:"; tail -n 30 "$logs/out" | sed 's/^/     /'
    fail=1
  fi
done
reports=$(ls "$logs"/tsan.* 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
  echo "FAIL: ThreadSanitizer reports from $reports process(es):"
  for f in "$logs"/tsan.*; do
    grep -c "WARNING: ThreadSanitizer" "$f" | sed "s|^|  $(basename "$f"): |;s|$| warnings|"
    grep -A 14 "WARNING: ThreadSanitizer" "$f" | head -n 60 | sed 's/^/    /'
  done
  fail=1
else
  echo "ok   no ThreadSanitizer report from any server process"
fi
[ "$fail" -eq 0 ] && echo "PASS" || echo "FAIL"
exit "$fail"
