#!/usr/bin/env python3
"""Configuration helper for the local stack (scripts/stack); python3 standard library + PyYAML.

scripts/stack is bash; the parts that are awkward in bash live here, each a subcommand:

  free-ports N                  print N distinct free loopback TCP ports below the ephemeral range
  check-ports P...              fail naming the first port that cannot be bound on 127.0.0.1
  render TEMPLATE OUT K=V...    copy TEMPLATE to OUT replacing every @K@; a token left unfilled is an error
  rules SRC OUT MAX_FOR INTERVAL
                                write a copy of the production alerting rules in which every `for:`
                                longer than MAX_FOR becomes MAX_FOR and every group `interval:` longer
                                than INTERVAL becomes INTERVAL, so alerts fire in seconds on one machine;
                                prints one line per substitution
  ingress FILE                  print the Kubernetes Ingress's body-size limits, proxy timeouts and retry
                                policy as shell assignments (BODY_SIZE=8m CONNECT_TIMEOUT=5s ...) for nginx
  request CSV OUT               write an Open Inference Protocol request for the first row of CSV
  alert-for RULES               print "ALERT FOR_SECONDS" for every alerting rule (for the tests)
  wrk-table LABEL FILE...       one Markdown table row per saved `wrk --latency` output

Every error names the file and what is wrong, and exits 2.
"""
import json
import os
import re
import socket
import sys

DURATION_RE = re.compile(r'^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$')
UNIT_SECONDS = {'y': 365 * 86400, 'w': 7 * 86400, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}


def die(msg):
    sys.stderr.write('stackconf: %s\n' % msg)
    sys.exit(2)


def parse_duration(text, where):
    """Prometheus duration ("1m30s", "500ms") -> seconds as float."""
    s = str(text).strip()
    m = DURATION_RE.match(s)
    if not s or not m or not any(m.groups()):
        die('%s: "%s" is not a Prometheus duration (like 30s, 5m, 1h30m)' % (where, text))
    total = 0.0
    for unit, idx in (('y', 2), ('w', 4), ('d', 6), ('h', 8), ('m', 10), ('s', 12)):
        if m.group(idx):
            total += int(m.group(idx)) * UNIT_SECONDS[unit]
    if m.group(14):
        total += int(m.group(14)) / 1000.0
    return total


def fmt_duration(seconds):
    if seconds == int(seconds):
        return '%ds' % int(seconds)
    return '%dms' % int(round(seconds * 1000))


def cmd_free_ports(args):
    """N free ports below the kernel's ephemeral range (32768+ on Linux), so that while a replica
    is restarted no outgoing connection or bind(0) elsewhere on the machine can take its port."""
    import random
    if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 64:
        die('free-ports wants one count between 1 and 64')
    want, socks = int(args[0]), []
    try:
        # Hold every socket open until all are bound so the N ports are distinct.
        for _ in range(2000):
            if len(socks) == want:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(('127.0.0.1', random.randrange(15000, 32000)))
                socks.append(s)
            except OSError:
                s.close()
        if len(socks) < want:
            die('found only %d free ports between 15000 and 32000; set STACK_BASE_PORT' % len(socks))
        print(' '.join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def cmd_check_ports(args):
    for a in args:
        if not a.isdigit() or not 1 <= int(a) <= 65535:
            die('port "%s" is not a number between 1 and 65535' % a)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', int(a)))
        except OSError as e:
            die('port %s on 127.0.0.1 is not free (%s); choose another STACK_BASE_PORT' % (a, e.strerror))
        finally:
            s.close()


def cmd_render(args):
    if len(args) < 2:
        die('render wants TEMPLATE OUT KEY=VALUE...')
    src, out = args[0], args[1]
    values = {}
    for kv in args[2:]:
        if '=' not in kv:
            die('render: "%s" is not KEY=VALUE' % kv)
        k, v = kv.split('=', 1)
        values[k] = v
    try:
        with open(src, encoding='utf-8') as f:
            text = f.read()
    except OSError as e:
        die('%s: cannot read template (%s)' % (src, e.strerror))

    def sub(m):
        key = m.group(1)
        if key not in values:
            die('%s: token @%s@ has no value' % (src, key))
        return values[key]
    text = re.sub(r'@([A-Z][A-Z0-9_]*)@', sub, text)
    write_atomically(out, text)


def write_atomically(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def load_yaml(path):
    import yaml  # python3-yaml, installed by scripts/install-deps.sh
    try:
        with open(path, encoding='utf-8') as f:
            return list(yaml.safe_load_all(f))
    except OSError as e:
        die('%s: cannot read (%s)' % (path, e.strerror))
    except yaml.YAMLError as e:
        die('%s: not valid YAML (%s)' % (path, e))


def cmd_rules(args):
    import yaml
    if len(args) != 4:
        die('rules wants SRC OUT MAX_FOR INTERVAL')
    src, out = args[0], args[1]
    max_for = parse_duration(args[2], 'MAX_FOR')
    interval = parse_duration(args[3], 'INTERVAL')
    docs = load_yaml(src)
    if len(docs) != 1 or not isinstance(docs[0], dict) or not isinstance(docs[0].get('groups'), list):
        die('%s: expected one YAML document with a "groups:" list (Prometheus rules file)' % src)
    doc = docs[0]
    notes = []
    for gi, g in enumerate(doc['groups']):
        if not isinstance(g, dict) or not isinstance(g.get('rules'), list):
            die('%s: group %d has no "rules:" list' % (src, gi + 1))
        gname = g.get('name', 'group %d' % (gi + 1))
        if 'interval' in g:
            gi_s = parse_duration(g['interval'], '%s: group %s interval' % (src, gname))
            if gi_s > interval:
                notes.append('group %s: interval %s -> %s' % (gname, g['interval'], fmt_duration(interval)))
                g['interval'] = fmt_duration(interval)
        for r in g['rules']:
            if not isinstance(r, dict) or 'for' not in r:
                continue
            name = r.get('alert', r.get('record', '?'))
            secs = parse_duration(r['for'], '%s: rule %s for' % (src, name))
            if secs > max_for:
                notes.append('alert %s: for %s -> %s' % (name, r['for'], fmt_duration(max_for)))
                r['for'] = fmt_duration(max_for)
    header = ('# GENERATED by scripts/stack from %s -- do not edit.\n'
              '# Identical rules; only these windows were shortened so alerts fire within seconds locally:\n'
              % os.path.abspath(src))
    header += ''.join('#   %s\n' % n for n in notes) if notes else '#   (none)\n'
    write_atomically(out, header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000))
    for n in notes:
        print(n)


def cmd_alert_for(args):
    if len(args) != 1:
        die('alert-for wants RULES')
    for doc in load_yaml(args[0]):
        for g in (doc or {}).get('groups', []) or []:
            for r in g.get('rules', []) or []:
                if 'alert' in r:
                    print('%s %g' % (r['alert'], parse_duration(r.get('for', '0s'), args[0])))


# ingress-nginx annotation -> (shell name, kind of value, default when the Ingress does not set it).
# Defaults are ingress-nginx's own, except the body size (our server's 8 MiB limit) and the retry
# policy (predictions are pure, so POSTs are retried too).
ANNOTATIONS = {
    'nginx.ingress.kubernetes.io/proxy-body-size': ('BODY_SIZE', 'size', '8m'),
    'nginx.ingress.kubernetes.io/client-body-buffer-size': ('BODY_BUFFER_SIZE', 'size', '16k'),
    'nginx.ingress.kubernetes.io/proxy-connect-timeout': ('CONNECT_TIMEOUT', 'seconds', '5s'),
    'nginx.ingress.kubernetes.io/proxy-send-timeout': ('SEND_TIMEOUT', 'seconds', '60s'),
    'nginx.ingress.kubernetes.io/proxy-read-timeout': ('READ_TIMEOUT', 'seconds', '60s'),
    'nginx.ingress.kubernetes.io/proxy-next-upstream':
        ('NEXT_UPSTREAM', 'conditions', 'error timeout http_502 http_503 non_idempotent'),
    'nginx.ingress.kubernetes.io/proxy-next-upstream-tries': ('NEXT_UPSTREAM_TRIES', 'count', '3'),
    'nginx.ingress.kubernetes.io/proxy-next-upstream-timeout': ('NEXT_UPSTREAM_TIMEOUT', 'seconds', '0s'),
}
NEXT_UPSTREAM_WORDS = {'error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503',
                       'http_504', 'http_403', 'http_404', 'http_429', 'non_idempotent', 'off'}


def nginx_value(kind, raw, where):
    s = str(raw).strip()
    if kind == 'size':
        if not re.match(r'^\d+[kKmMgG]?$', s):
            die('%s: "%s" is not an nginx size (like 8m)' % (where, raw))
        return s.lower()
    if kind == 'count':
        if not re.match(r'^\d+$', s):
            die('%s: "%s" is not a whole number' % (where, raw))
        return s
    if kind == 'conditions':
        words = s.split()
        bad = [w for w in words if w not in NEXT_UPSTREAM_WORDS]
        if not words or bad:
            die('%s: "%s" is not a proxy_next_upstream list (unknown: %s)' % (where, raw, ' '.join(bad)))
        return ' '.join(words)
    # ingress-nginx timeouts are plain seconds; accept an explicit "s" too.
    if not re.match(r'^\d+s?$', s):
        die('%s: "%s" is not a number of seconds' % (where, raw))
    return s.rstrip('s') + 's'


def location_regex(ingress, where):
    """One nginx location regex matching exactly the Ingress's paths, with Kubernetes semantics:
    Prefix matches whole path elements (/v2 matches /v2 and /v2/x, not /v2x), Exact the path only."""
    alts = []
    for rule in (ingress.get('spec') or {}).get('rules') or []:
        for p in ((rule.get('http') or {}).get('paths')) or []:
            path, kind = str(p.get('path', '')), p.get('pathType', 'Prefix')
            if not path.startswith('/') or re.search(r'[\s"{};]', path):
                die('%s: Ingress path "%s" is not an absolute URL path' % (where, path))
            if kind == 'Exact':
                alts.append(re.escape(path) + '$')
            elif kind in ('Prefix', 'ImplementationSpecific'):
                trimmed = path.rstrip('/')
                alts.append(re.escape(trimmed) + '(?:/|$)' if trimmed else '/')
            else:
                die('%s: Ingress path "%s" has an unknown pathType "%s"' % (where, path, kind))
    if not alts:
        die('%s: the Ingress has no rules[].http.paths' % where)
    return '^(?:%s)' % '|'.join(alts)


def cmd_ingress(args):
    """The Ingress's annotations as shell assignments; quoted with shlex so `eval` is safe."""
    import shlex
    if len(args) != 1:
        die('ingress wants one Ingress manifest')
    path = args[0]
    ingresses = [d for d in load_yaml(path) if isinstance(d, dict) and d.get('kind') == 'Ingress']
    if len(ingresses) != 1:
        die('%s: expected exactly one "kind: Ingress" document, found %d' % (path, len(ingresses)))
    meta = ingresses[0].get('metadata') or {}
    ann = meta.get('annotations') or {}
    for key, (var, kind, default) in ANNOTATIONS.items():
        v = nginx_value(kind, ann[key], '%s: annotation %s' % (path, key)) if key in ann else default
        print('%s=%s' % (var, shlex.quote(v)))
    print('INGRESS_LOCATION=%s' % shlex.quote(location_regex(ingresses[0], path)))
    # The replicas get the same limit in bytes, as production's TREESERVE_MAX_BODY_BYTES.
    size = nginx_value('size', ann.get('nginx.ingress.kubernetes.io/proxy-body-size', '8m'), path)
    mult = {'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3}.get(size[-1], 1)
    print('BODY_BYTES=%d' % (int(size.rstrip('kmg')) * mult))
    print('INGRESS_SOURCE=%s' % shlex.quote('%s (Ingress %s)' % (path, meta.get('name', '?'))))


def cmd_request(args):
    if len(args) != 2:
        die('request wants CSV OUT')
    try:
        with open(args[0], encoding='utf-8') as f:
            f.readline()  # header
            row = f.readline().strip()
    except OSError as e:
        die('%s: cannot read (%s)' % (args[0], e.strerror))
    try:
        data = [float(x) for x in row.split(',')]
    except ValueError:
        die('%s: line 2 is not all numbers' % args[0])
    body = {'inputs': [{'name': 'x', 'shape': [1, len(data)], 'datatype': 'FP64', 'data': data}]}
    write_atomically(args[1], json.dumps(body, separators=(',', ':')) + '\n')


def wrk_ms(text, where):
    m = re.match(r'^([\d.]+)(us|ms|s|m)$', text)
    if not m:
        die('%s: "%s" is not a wrk latency' % (where, text))
    return float(m.group(1)) * {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}[m.group(2)]


def parse_wrk(path):
    """Requests/s, latency percentiles (ms), request count and failures from `wrk --latency` output."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError as e:
        die('%s: cannot read (%s)' % (path, e.strerror))
    out = {'errors': 0, 'non2xx': 0}
    m = re.search(r'^Requests/sec:\s+([\d.]+)', text, re.M)
    n = re.search(r'^\s*(\d+) requests in', text, re.M)
    if not m or not n:
        die('%s: no "Requests/sec" / "requests in" lines: not wrk output?' % path)
    out['rps'] = float(m.group(1))
    out['requests'] = int(n.group(1))
    for pct in ('50', '75', '90', '99'):
        p = re.search(r'^\s+%s%%\s+(\S+)' % pct, text, re.M)
        if not p:
            die('%s: no %s%% latency line (was wrk run with --latency?)' % (path, pct))
        out['p' + pct] = wrk_ms(p.group(1), path)
    e = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', text)
    if e:
        out['errors'] = sum(int(x) for x in e.groups())
    x = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
    if x:
        out['non2xx'] = int(x.group(1))
    return out


def cmd_wrk_table(args):
    if not args or len(args) % 2:
        die('wrk-table wants LABEL FILE pairs')
    print('| target | requests/s | p50 ms | p75 ms | p90 ms | p99 ms | requests | failed |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for label, path in zip(args[::2], args[1::2]):
        r = parse_wrk(path)
        print('| %s | %.0f | %.3f | %.3f | %.3f | %.3f | %d | %d |' % (
            label, r['rps'], r['p50'], r['p75'], r['p90'], r['p99'], r['requests'], r['errors'] + r['non2xx']))


COMMANDS = {
    'free-ports': cmd_free_ports, 'check-ports': cmd_check_ports, 'render': cmd_render,
    'rules': cmd_rules, 'ingress': cmd_ingress, 'request': cmd_request, 'alert-for': cmd_alert_for,
    'wrk-table': cmd_wrk_table,
}

if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die('usage: stackconf.py {%s} ...' % '|'.join(COMMANDS))
    COMMANDS[sys.argv[1]](sys.argv[2:])
