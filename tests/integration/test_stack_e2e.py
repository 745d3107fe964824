#!/usr/bin/env python3
"""End-to-end tests of the local stack (scripts/stack): 3 treeserve replicas behind a real nginx,
scraped by a real Prometheus that loads production's alerting rules.

Under steady wrk load through nginx (deploy/local/wrk-infer.lua POSTs one inference request):
  1. one replica gets SIGTERM and is started again: zero failed requests;
  2. one replica gets SIGKILL and is started again: zero failed requests (nginx retries);
  3. a new model version is dropped into the stack's repository (its copy in the run directory):
     every replica switches to it (responses carry the new model_version), zero failed requests;
  4. Prometheus' HTTP API returns the request rate of each replica, and the replica-down alert
     fires within its for: window after a replica is stopped (and clears when it is back).
Also: the lifecycle (status, the body-size limit, /metrics not routed, `down` stops exactly the
processes it started).

A failed request is a non-2xx response or a socket error (connect, read, write, timeout) in wrk's
report. Runs $TREESERVE_BIN in a temporary run directory on free loopback ports; the stack is
stopped on exit. Bounded: about 100 s.
"""
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.environ.get('TREESERVE_SRC') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.environ.get('TREESERVE_BIN') or os.path.join(ROOT, 'build', 'treeserve')
STACK = os.path.join(ROOT, 'scripts', 'stack')
LUA = os.path.join(ROOT, 'deploy', 'local', 'wrk-infer.lua')
RULES = os.path.join(ROOT, 'deploy', 'monitoring', 'prometheus-rules.yml')

failures = []


class Fatal(Exception):
    pass


def check(ok, what):
    print('%s  %s' % ('ok  ' if ok else 'FAIL', what), flush=True)
    if not ok:
        failures.append(what)
    return ok


def stack(env, *args, ok=True, timeout=120):
    r = subprocess.run([STACK, *args], env=env, capture_output=True, text=True, timeout=timeout)
    out = r.stdout + r.stderr
    if ok and r.returncode != 0:
        raise Fatal('scripts/stack %s failed with %d:\n%s' % (' '.join(args), r.returncode, out))
    return r.returncode, out


def read_state(run):
    state = {}
    with open(os.path.join(run, 'stack.env'), encoding='utf-8') as f:
        for line in f:
            k, _, v = line.rstrip('\n').partition('=')
            state[k] = ' '.join(shlex.split(v))
    state['ports'] = [int(p) for p in state['REPLICA_PORTS'].split()]
    return state


def http_req(url, body=None, timeout=5):
    """(status, headers, body) of one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def infer(port, request, model):
    return http_req('http://127.0.0.1:%d/v2/models/%s/infer' % (port, model), request)


def version_of(body):
    try:
        return str(json.loads(body).get('model_version'))
    except (ValueError, AttributeError):
        return None


class Load:
    """wrk for a fixed time against one URL, in the background."""

    def __init__(self, url, request, seconds):
        self.seconds = seconds
        self.proc = subprocess.Popen(
            ['wrk', '-t2', '-c8', '-d%ds' % seconds, '--timeout', '10s', '-s', LUA, url, '--', request],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self):
        out, _ = self.proc.communicate(timeout=self.seconds + 60)
        r = {'out': out, 'requests': 0, 'non2xx': 0, 'socket': 0, 'status': {}, 'versions': {}}
        m = re.search(r'^\s*(\d+) requests in', out, re.M)
        if self.proc.returncode != 0 or not m:
            raise Fatal('wrk failed (exit %s):\n%s' % (self.proc.returncode, out))
        r['requests'] = int(m.group(1))
        m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
        r['non2xx'] = int(m.group(1)) if m else 0
        m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
        r['socket'] = sum(int(x) for x in m.groups()) if m else 0
        for k, n in re.findall(r'^status (\d+) (\d+)$', out, re.M):
            r['status'][k] = int(n)
        for k, n in re.findall(r'^model_version (\S+) (\d+)$', out, re.M):
            r['versions'][k] = int(n)
        return r


def report_load(name, r):
    print('  %s: %d requests, non-2xx %d, socket errors %d, statuses %s, model_version %s' % (
        name, r['requests'], r['non2xx'], r['socket'], r['status'], r['versions']), flush=True)
    check(r['requests'] >= 100, '%s: the load ran (%d requests)' % (name, r['requests']))
    check(r['non2xx'] == 0 and r['socket'] == 0,
          '%s: zero failed requests (non-2xx %d, socket errors %d)' % (name, r['non2xx'], r['socket']))
    check(set(r['status']) == {'200'}, '%s: every response was 200 (%s)' % (name, r['status']))


def wait_in_rotation(st, port, deadline_s=15):
    """True once a request through nginx is answered by the replica on `port`."""
    want = '127.0.0.1:%d' % port
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status, headers, _ = infer(st['nginx'], st['request'], st['MODEL'])
        if status == 200 and headers.get('X-Upstream-Addr', '').split(', ')[-1] == want:
            return True
        time.sleep(0.05)
    return False


def retried_requests(st):
    """Requests nginx sent to more than one replica so far ("upstream=a, b" in its access log)."""
    time.sleep(1.2)  # the access log is flushed every second
    with open(os.path.join(st['run'], 'logs', 'nginx-access.log'), errors='replace') as f:
        return sum(1 for line in f if re.search(r'upstream=\S+, ', line))


def fault_scenario(env, st, name, replica, sig):
    retried_before = retried_requests(st)
    load = Load(st['url'], st['request_file'], 14)
    time.sleep(3)
    stack(env, 'stop-replica', str(replica), sig)
    print('  replica-%d got SIG%s and has exited' % (replica, sig), flush=True)
    time.sleep(1)
    stack(env, 'start-replica', str(replica))
    print('  replica-%d started again' % replica, flush=True)
    report_load(name, load.result())
    retried = retried_requests(st) - retried_before
    print('  nginx retried %d requests on another replica' % retried)
    if sig == 'KILL':
        # Requests were in flight on (or sent to) the killed replica: only retries saved them.
        check(retried > 0, '%s: nginx retried requests on another replica (%d)' % (name, retried))
    check(wait_in_rotation(st, st['ports'][replica - 1]),
          '%s: nginx sends requests to the restarted replica-%d again' % (name, replica))


def rollout_scenario(env, st):
    name = '3 new model version'
    run, model = st['run'], st['MODEL']
    mdir = os.path.join(st['MODELS'], model)
    versions = sorted(int(v) for v in os.listdir(mdir) if v.isdigit())
    old, new = str(versions[-1]), str(versions[-1] + 1)
    for i, p in enumerate(st['ports'], 1):
        status, _, body = infer(p, st['request'], model)
        check(status == 200 and version_of(body) == old,
              '%s: replica-%d serves version %s before (got %s %s)' % (name, i, old, status, version_of(body)))
    load = Load(st['url'], st['request_file'], 16)
    time.sleep(3)
    # Built next to the repository and renamed into it, so a replica never sees half a version.
    staging = os.path.join(run, 'staging-%s' % new)
    os.makedirs(staging)
    shutil.copy(os.path.join(mdir, old, 'model.txt'), os.path.join(staging, 'model.txt'))
    os.rename(staging, os.path.join(mdir, new))
    t0 = time.monotonic()
    print('  dropped %s/%s/model.txt during the load' % (mdir, new), flush=True)
    switched = {}
    while time.monotonic() - t0 < 12 and len(switched) < len(st['ports']):
        for i, p in enumerate(st['ports'], 1):
            if i not in switched:
                status, _, body = infer(p, st['request'], model)
                if status == 200 and version_of(body) == new:
                    switched[i] = time.monotonic() - t0
        time.sleep(0.1)
    for i in range(1, len(st['ports']) + 1):
        check(i in switched, '%s: replica-%d answers with model_version %s (after %.1fs)' % (
            name, i, new, switched.get(i, -1)))
    r = load.result()
    report_load(name, r)
    check(r['versions'].get(new, 0) > 0 and r['versions'].get(old, 0) > 0,
          '%s: the client saw version %s, then version %s (%s)' % (name, old, new, r['versions']))
    got = set()
    for _ in range(3 * len(st['ports'])):
        got.add(version_of(infer(st['nginx'], st['request'], model)[2]))
    check(got == {new}, '%s: after the rollout every answer through nginx is version %s (%s)' % (name, new, got))


def prom_api(st, path, **params):
    url = 'http://127.0.0.1:%d/api/v1/%s' % (st['prom'], path)
    if params:
        url += '?' + urllib.parse.urlencode(params)
    status, _, body = http_req(url)
    if status != 200:
        raise Fatal('Prometheus %s answered %d: %s' % (url, status, body[:300]))
    return json.loads(body)['data']


def production_alerts():
    with open(RULES, encoding='utf-8') as f:
        return set(re.findall(r'^\s*-?\s*alert:\s*(\S+)', f.read(), re.M))


def prometheus_scenario(env, st):
    name = '4 prometheus'
    loaded = {}
    for g in prom_api(st, 'rules')['groups']:
        for r in g['rules']:
            if r['type'] == 'alerting':
                loaded[r['name']] = r
    check(set(loaded) == production_alerts(),
          '%s: Prometheus loaded exactly the alerts of deploy/monitoring/prometheus-rules.yml (%d)' % (
              name, len(loaded)))
    down = [n for n, r in loaded.items() if re.search(r'\bup\b.*==\s*0', r['query'])
            and 'count' not in r['query']]
    if not check(len(down) == 1, '%s: one replica-down alert on `up == 0` (%s)' % (name, down)):
        return
    alert, window = down[0], float(loaded[down[0]]['duration'])
    print('  replica-down alert %s: for %gs locally (%s)' % (alert, window, loaded[alert]['query']), flush=True)
    check(0 < window <= 30, '%s: its local for: window is bounded (%gs)' % (name, window))

    # Request rate of each replica, from Prometheus, while load runs.
    instances = {'127.0.0.1:%d' % p for p in st['ports']}
    query = 'sum by (instance) (rate(treeserve_requests_total{job=~"treeserve.*",endpoint="infer"}[5s]))'
    load = Load(st['url'], st['request_file'], 10)
    rates, end = {}, time.monotonic() + 25
    while time.monotonic() < end:
        time.sleep(1)
        rates = {r['metric'].get('instance'): float(r['value'][1]) for r in prom_api(st, 'query', query=query)['result']}
        if set(rates) >= instances and all(rates[i] > 0 for i in instances):
            break
    report_load(name + ' load', load.result())
    print('  %s -> %s' % (query, rates), flush=True)
    check(set(rates) >= instances and all(rates[i] > 0 for i in instances),
          '%s: the HTTP API returns a request rate > 0 for each of the %d replicas' % (name, len(instances)))

    # Stop replica-1; the alert must go pending, then fire once its for: window has passed.
    victim = '127.0.0.1:%d' % st['ports'][0]
    stack(env, 'stop-replica', '1', 'TERM')
    t_stop = time.monotonic()
    print('  replica-1 (%s) stopped' % victim, flush=True)
    states, t_pending, t_firing, others = {}, None, None, set()
    while time.monotonic() - t_stop < window + 30 and t_firing is None:
        for a in prom_api(st, 'alerts')['alerts']:
            if a['labels'].get('alertname') != alert:
                continue
            if a['labels'].get('instance') != victim:
                others.add(a['labels'].get('instance'))
                continue
            if a['state'] == 'pending' and t_pending is None:
                t_pending = time.monotonic() - t_stop
            if a['state'] == 'firing':
                t_firing = time.monotonic() - t_stop
        time.sleep(0.25)
    print('  %s for %s: pending after %s s, firing after %s s (for: %gs)' % (
        alert, victim, t_pending and round(t_pending, 1), t_firing and round(t_firing, 1), window), flush=True)
    check(t_pending is not None, '%s: %s went pending for the stopped replica' % (name, alert))
    # Detection takes up to one scrape plus one evaluation; allow a few seconds of noise on top.
    check(t_firing is not None and window - 1 <= t_firing <= window + 8,
          '%s: %s fired within its for: window (%gs) after the replica stopped (%s s)' % (
              name, alert, window, t_firing and round(t_firing, 1)))
    check(not others, '%s: no replica-down alert for the running replicas (%s)' % (name, others or 'none'))

    stack(env, 'start-replica', '1')
    end, cleared = time.monotonic() + 20, False
    while time.monotonic() < end and not cleared:
        time.sleep(0.5)
        cleared = not any(a['labels'].get('alertname') == alert and a['labels'].get('instance') == victim
                          for a in prom_api(st, 'alerts')['alerts'])
    check(cleared, '%s: the alert cleared once replica-1 was back' % name)


def lifecycle_checks(env, st):
    rc, out = stack(env, 'status', ok=False)
    print('\n'.join('  ' + l for l in out.splitlines()))
    check(rc == 0 and out.count(' running ') == len(st['ports']) + 2,
          'status: every replica, nginx and prometheus running and ready (exit %d)' % rc)
    rc, out = stack(env, 'up', ok=False)
    rc2, _ = stack(env, 'status', ok=False)
    check(rc != 0 and 'already running' in out and rc2 == 0,
          'a second up is refused and leaves the running stack alone (%s)' % out.strip().splitlines()[-1:])
    status, headers, body = infer(st['nginx'], st['request'], st['MODEL'])
    check(status == 200 and version_of(body) is not None and headers.get('X-Upstream-Addr'),
          'POST through nginx -> %d, model_version %s, from %s' % (
              status, version_of(body), headers.get('X-Upstream-Addr')))
    for path in ('/metrics', '/openapi.json', '/v2x', '/v1/other'):
        status, _, _ = http_req('http://127.0.0.1:%d%s' % (st['nginx'], path))
        check(status == 404, '%s is not routed through nginx, as in the Ingress (-> %d)' % (path, status))
    row = json.loads(st['request'])['inputs'][0]['data']
    status, headers, body = http_req('http://127.0.0.1:%d/v1/models/%s:predict' % (st['nginx'], st['MODEL']),
                                     json.dumps({'instances': [row]}).encode())
    check(status == 200 and headers.get('X-Upstream-Addr') and b'predictions' in body,
          'the records API (/v1/models, in the Ingress) goes through nginx (-> %d)' % status)
    # Over the Ingress's 8m body limit: nginx refuses from the header alone.
    limit = 8 * 1024 * 1024
    conn = http.client.HTTPConnection('127.0.0.1', st['nginx'], timeout=10)
    conn.putrequest('POST', '/v2/models/%s/infer' % st['MODEL'])
    conn.putheader('Content-Type', 'application/json')
    conn.putheader('Content-Length', str(limit + 1))
    conn.endheaders()
    resp = conn.getresponse()
    check(resp.status == 413, 'a body of 8 MiB + 1 byte is refused by nginx with 413 (-> %d)' % resp.status)
    conn.close()
    # Just under the limit: nginx passes it on (the replica answers it, whatever it thinks of it).
    body = b'{"inputs":[]' + b' ' * (limit - 1024) + b'}'
    status, headers, _ = http_req('http://127.0.0.1:%d/v2/models/%s/infer' % (st['nginx'], st['MODEL']), body, 30)
    check(headers.get('X-Upstream-Addr', '') != '',
          'a body just under 8 MiB goes through nginx to a replica (-> %d from %s)' % (
              status, headers.get('X-Upstream-Addr')))


def main():
    for tool in ('wrk', '/usr/sbin/nginx', '/usr/bin/prometheus', 'curl'):
        if not shutil.which(tool):
            print('FAIL  %s is missing (scripts/install-deps.sh installs it)' % tool)
            return 1
    if not os.access(BIN, os.X_OK):
        print('FAIL  TREESERVE_BIN=%s is not executable' % BIN)
        return 1
    run = tempfile.mkdtemp(prefix='treeserve-stack-')
    env = {k: v for k, v in os.environ.items() if not k.startswith('STACK_')}
    env.update(STACK_DIR=run, TREESERVE_BIN=BIN, STACK_POLL_INTERVAL='1', STACK_DRAIN_SECONDS='2',
               STACK_GRACE_SECONDS='5', STACK_SCRAPE_INTERVAL='1s', STACK_ALERT_FOR_MAX='10s')
    # `timeout` (scripts/test.sh) sends SIGTERM: still take the stack down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        t0 = time.monotonic()
        _, out = stack(env, 'up')
        print('  scripts/stack up in %.1fs' % (time.monotonic() - t0))
        st = read_state(run)
        st.update(run=run, nginx=int(st['NGINX_PORT']), prom=int(st['PROM_PORT']))
        st['url'] = 'http://127.0.0.1:%d/v2/models/%s/infer' % (st['nginx'], st['MODEL'])
        st['request_file'] = st['REQUEST']
        with open(st['request_file'], 'rb') as f:
            st['request'] = f.read()
        check('http://127.0.0.1:%d/' % st['prom'] in out and 'http://127.0.0.1:%d/v2/' % st['nginx'] in out,
              'up prints the URLs of the API through nginx and of Prometheus')
        curl = [l.strip() for l in out.splitlines() if l.strip().startswith('curl ')]
        if check(len(curl) == 1, 'up prints a curl example'):
            r = subprocess.run(curl[0], shell=True, capture_output=True, timeout=10)
            check(r.returncode == 0 and version_of(r.stdout) is not None,
                  'the printed curl example works as printed (%s)' % r.stdout[:80])

        print('\n== lifecycle', flush=True)
        lifecycle_checks(env, st)
        print('\n== 1: SIGTERM one replica under load, start it again', flush=True)
        fault_scenario(env, st, '1 SIGTERM', 2, 'TERM')
        print('\n== 2: SIGKILL one replica under load, start it again', flush=True)
        fault_scenario(env, st, '2 SIGKILL', 3, 'KILL')
        print('\n== 3: new model version during load', flush=True)
        rollout_scenario(env, st)
        print('\n== 4: Prometheus rates and the replica-down alert', flush=True)
        prometheus_scenario(env, st)
        print('\n  whole test: %.0fs' % (time.monotonic() - t0))
    except Fatal as e:
        check(False, str(e))
    finally:
        if failures:
            for f in sorted(os.listdir(os.path.join(run, 'logs'))) if os.path.isdir(os.path.join(run, 'logs')) else []:
                print('--- %s (last lines)' % f)
                with open(os.path.join(run, 'logs', f), errors='replace') as fh:
                    print(''.join(fh.readlines()[-15:]))
        piddir = os.path.join(run, 'pids')
        pids = [open(os.path.join(piddir, f)).read().strip() for f in os.listdir(piddir)] if os.path.isdir(piddir) else []
        rc, out = stack(env, 'down', ok=False)
        check(rc == 0, 'down exits 0')
        alive = [p for p in pids if os.path.exists('/proc/%s' % p) and
                 open('/proc/%s/stat' % p).read().split(') ')[-1][0] != 'Z']
        check(not alive, 'down stopped every process up had started (still alive: %s)' % (alive or 'none'))
        if os.path.isdir(os.path.join(run, 'pids')):
            check(not os.listdir(os.path.join(run, 'pids')), 'down removed the pid files')
        if os.environ.get('KEEP_STACK_DIR'):
            print('run directory kept: %s' % run)
        else:
            shutil.rmtree(run, ignore_errors=True)
    print('\n%s: %d failed' % ('FAILED' if failures else 'PASSED', len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
