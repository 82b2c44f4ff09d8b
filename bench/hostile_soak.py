#!/usr/bin/env python3
"""Hostile soak (issue #9): 16 honest gates check tickets in on keep-alive connections while one
attacker runs each attack in turn. Prints honest check-ins answered, their statuses, 5xx, and
the service's descriptors and memory before and after. Loopback only; bounded in time."""
import http.client, json, os, socket, sys, threading, time

port = int(os.environ["PORT"]); pid = int(os.environ["SERVICE_PID"])
device_id, token, gate = os.environ["DEVICE_ID"], os.environ["DEVICE_TOKEN"], os.environ["GATE_ID"]
codes = open(os.environ["CODES_FILE"]).read().split()
duration = float(os.environ.get("SOAK_SECONDS", "60"))

def fds(): return len(os.listdir(f"/proc/{pid}/fd"))
def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return -1

stop = time.time() + duration
statuses, lock, next_code = {}, threading.Lock(), [0]
def honest(n):
    conn = None
    while time.time() < stop:
        with lock:
            i = next_code[0]; next_code[0] += 1
        code = codes[i % len(codes)]
        body = json.dumps({"qrData": code, "deviceId": device_id, "gateId": gate, "scanId": f"soak-{n}-{i}"})
        try:
            if conn is None: conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/checkin", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            r = conn.getresponse(); r.read(); status = r.status
        except Exception as e:
            status = f"error:{type(e).__name__}"; conn = None
        with lock: statuses[status] = statuses.get(status, 0) + 1

def raw(payload, keep=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(payload)
    return s

attacks = {}
def attack(name):
    def register(f): attacks[name] = f; return f
    return register

@attack("NUL bytes in ids with a made-up token")
def nul(until):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    while time.time() < until:
        i += 1
        body = json.dumps({"qrData": "GH:x", "deviceId": "D\u0000x", "gateId": "g\u0000", "scanId": f"a\u0000{i}"})
        try:
            c.request("POST", "/api/checkin", body, {"Authorization": "Bearer ghd_MADEUP", "Content-Type": "application/json"}); c.getresponse().read()
        except Exception: c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

@attack("1,500 idle keep-alive connections")
def idle(until):
    held = []
    for _ in range(1500):
        if time.time() >= until: break
        try:
            s = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); s.recv(4096); held.append(s)
        except OSError: time.sleep(0.01)
    while time.time() < until: time.sleep(0.2)
    for s in held: s.close()

@attack("half-sent heads and bodies")
def half(until):
    held = []
    while time.time() < until:
        for payload in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow:", b"POST /api/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 999\r\n\r\n{"):
            try: held.append(raw(payload))
            except OSError: pass
        if len(held) > 1500:
            for s in held[:500]: s.close()
            held = held[500:]
        time.sleep(0.005)
    for s in held: s.close()

@attack("malformed chunked bodies")
def chunked(until):
    while time.time() < until:
        try:
            s = raw(b"POST /api/checkin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n"); s.recv(4096); s.close()
        except OSError: pass

@attack("wrong pairing codes")
def guesses(until):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.time() < until:
        try: c.request("POST", "/api/enroll", json.dumps({"code": "ZZZZ-ZZZZ-ZZZZ"}), {"Content-Type": "application/json"}); c.getresponse().read()
        except Exception: c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

warmup = 10.0
stop += warmup
threads = [threading.Thread(target=honest, args=(n,)) for n in range(16)]
for t in threads: t.start()
# The baseline is the service warm under honest load alone (its caches filled), not idle.
print(f"  honest load alone for {warmup:.0f} s (baseline)", flush=True)
time.sleep(warmup)
fd0, rss0 = fds(), rss_mb()
with lock: baseline_answers = sum(statuses.values())
slot = duration / len(attacks)
for name, run in attacks.items():
    start = time.time()
    print(f"  attack: {name} ({slot:.0f} s); service fds {fds()}", flush=True)
    run(min(stop, start + slot))
for t in threads: t.join()
# The same honest load again for the "after" figure, once the idle timeout has closed what the
# attackers left behind.
time.sleep(31)
stop = time.time() + warmup
threads = [threading.Thread(target=honest, args=(n,)) for n in range(16)]
for t in threads: t.start()
for t in threads: t.join()
fd1, rss1 = fds(), rss_mb()
honest_seconds = duration + 2 * warmup
answered = sum(v for k, v in statuses.items() if isinstance(k, int))
fivexx = sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500)
print(f"honest check-ins answered: {answered} ({answered / honest_seconds:.0f}/s over {honest_seconds:.0f} s of honest load), statuses {statuses}")
print(f"5xx: {fivexx}")
print(f"service file descriptors: {fd0} before, {fd1} after; resident memory {rss0:.1f} MB before, {rss1:.1f} MB after"
      " (both under honest load alone)")
sys.exit(0 if fivexx == 0 and all(isinstance(k, int) for k in statuses) else 1)
