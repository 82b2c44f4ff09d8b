#!/usr/bin/env python3
"""The field rig's scenarios: inside the guest, against the kiosk and the service as installed.

Each scenario appends one JSON object to results.jsonl in the results folder ({"scenario", "ok",
"detail", "figures"}) and prints it; a failed check ends its scenario, not the run. Outputs are
read two ways: the chip's sysfs values, polled (what a meter on the pins would show), and the
kernel's gpio trace events (every value the kiosk set, with the kernel's timestamps).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

OUT = sys.argv[1]
STATE = "/run/field-rig"
FEEDER = os.path.join(OUT, "frame-feeder")
UNIT = "gate-kiosk.service"
CONFIG = "/etc/gate-kiosk/gate-kiosk.conf"
LINES = {"green": 17, "red": 27, "relay": 22}
INPUTS = {"alarm": 23, "passage": 24, "direction": 25, "attention": 16, "key_free": 5, "key_locked": 6, "key_out_of_order": 13}
EXIT_RELAY = 26
RELAY_PULSE_MS = 300  # the default relay_pulse_ms the install keeps
WATCHDOG_SEC = 10     # WatchdogSec= in systemd/gate-kiosk.service
TRACING = "/sys/kernel/tracing"


def read(path):
    with open(path) as handle:
        return handle.read().strip()


SYSFS = read(f"{STATE}/gpio-sysfs")
CODES = [line.split(",", 1) for line in read(f"{STATE}/codes").split()]  # [number, qrData]


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def run(*args, allow_failure=False):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0 and not allow_failure:
        raise Failed(f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()[:300]}")
    return result.stdout


def unit_property(name):
    return run("systemctl", "show", "-P", name, UNIT).strip()


def value(line):
    return int(read(f"{SYSFS}/sim_gpio{LINES[line]}/value"))


def outputs():
    return {line: value(line) for line in LINES}


def wait_for(predicate, timeout, step=0.001):
    """Polls until predicate() is true; returns time.monotonic() of that moment, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    return None


def cursor():
    text = run("journalctl", "-n", "0", "--show-cursor", "--no-pager")
    return text.strip().split("cursor: ", 1)[1]


def journal(after, unit=UNIT):
    args = ["journalctl", "-b", "-o", "json", "--no-pager"] + ([f"--after-cursor={after}"] if after else [])
    if unit:
        args += ["-u", unit]
    return [json.loads(line) for line in run(*args).splitlines() if line.startswith("{")]


def wait_for_message(after, pattern, timeout, unit=UNIT):
    """The first journal entry after the cursor whose MESSAGE matches, waiting up to timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in journal(after, unit):
            if re.search(pattern, str(entry.get("MESSAGE", ""))):
                return entry
        time.sleep(0.2)
    return None


def entry_time(entry):
    """An entry's CLOCK_MONOTONIC time in seconds (the same clock as time.monotonic())."""
    return int(entry["__MONOTONIC_TIMESTAMP"]) / 1e6


class GpioTrace:
    """The kernel's gpio_value events: each value the kiosk set, on the monotonic clock."""

    def __init__(self):
        if not os.path.isdir(f"{TRACING}/events/gpio"):
            run("mount", "-t", "tracefs", "tracefs", TRACING, allow_failure=True)
        with open(f"{TRACING}/trace_clock", "w") as handle:
            handle.write("mono")
        with open(f"{TRACING}/events/gpio/gpio_value/enable", "w") as handle:
            handle.write("1")
        self.base = self._chip_base()

    @staticmethod
    def _chip_base():
        """The chip's first global GPIO number, which the trace events use: from debugfs
        ("gpiochip0: GPIOs 512-543, parent: platform/gpio-sim.0, ...") or the legacy sysfs class."""
        chip = read(f"{STATE}/gpio-chip")
        if not os.path.exists("/sys/kernel/debug/gpio"):
            run("mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug", allow_failure=True)
        if os.path.exists("/sys/kernel/debug/gpio"):
            match = re.search(rf"^{chip}: GPIOs (\d+)-", read("/sys/kernel/debug/gpio"), re.M)
            if match:
                return int(match.group(1))
        for folder in os.listdir("/sys/class/gpio") if os.path.isdir("/sys/class/gpio") else []:
            if folder.startswith("gpiochip") and os.path.exists(f"/sys/class/gpio/{folder}/device/{chip}"):
                return int(read(f"/sys/class/gpio/{folder}/base"))
        raise Failed(f"cannot find the GPIO number base of {chip}")

    def clear(self):
        with open(f"{TRACING}/trace", "w") as handle:
            handle.write("")

    def events(self):
        """[(time, line name, value)] of the lines we care about, oldest first."""
        found = []
        for match in re.finditer(r"\s([0-9]+\.[0-9]+): gpio_value: (\d+) set +(\d)", read(f"{TRACING}/trace")):
            found.append((float(match.group(1)), int(match.group(2)), int(match.group(3))))
        by_number = {self.base + offset: name for name, offset in LINES.items()}
        return [(at, by_number[number], level) for at, number, level in found if number in by_number]


class Feeder:
    """The frame feeder as the camera: a code, a blank frame, or nothing (unplugged)."""

    def __init__(self):
        self.process = subprocess.Popen(
            [FEEDER, "/dev/gate-camera", "640", "480", "15"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        self.show("blank")

    def show(self, what):
        """Returns when the first frame with it was written (monotonic seconds)."""
        self.process.stdin.write(("code " + what if what != "blank" else "blank") + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        check(line.startswith("shown "), f"frame feeder did not show the frame: {line!r}")
        return int(line.split()[1]) / 1e9

    def unplug(self):
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=5)
        return time.monotonic()


results = []


def scenario(function):
    name = function.__name__
    figures = {}
    started = time.monotonic()
    try:
        detail = function(figures)
        ok = True
    except Failed as failure:
        ok, detail = False, str(failure)
    except Exception as error:  # a broken scenario is a failed one, with its reason
        ok, detail = False, f"{type(error).__name__}: {error}"
    figures["scenario_s"] = round(time.monotonic() - started, 1)
    result = {"scenario": name, "ok": ok, "detail": detail, "figures": figures}
    results.append(result)
    with open(os.path.join(OUT, "results.jsonl"), "a") as handle:
        handle.write(json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)


feeder = None
trace = None


def unit_starts(figures):
    global feeder
    check(wait_for(lambda: unit_property("ActiveState") == "active", 120, 0.5) is not None,
          f"{UNIT} never became active: {unit_property('ActiveState')}/{unit_property('SubState')}")
    started = int(unit_property("ExecMainStartTimestampMonotonic"))
    active = int(unit_property("ActiveEnterTimestampMonotonic"))
    figures["exec_to_ready_ms"] = round((active - started) / 1000)
    feeder = Feeder()
    plugged = time.monotonic()
    check(wait_for(lambda: unit_property("StatusText").startswith("Scanning"), 30, 0.05) is not None,
          f"status never said Scanning: {unit_property('StatusText')!r}")
    figures["camera_to_scanning_ms"] = round((time.monotonic() - plugged) * 1000)
    status = run("systemctl", "status", "--no-pager", UNIT, allow_failure=True)
    line = next((l.strip() for l in status.splitlines() if l.strip().startswith("Status:")), None)
    check(line is not None and "Scanning (/dev/gate-camera)" in line, f"no STATUS line in systemctl status: {status[:400]}")
    security = run("systemd-analyze", "security", "--no-pager", UNIT, allow_failure=True)
    match = re.search(r"Overall exposure level for gate-kiosk\.service: ([0-9.]+)", security)
    check(match is not None, f"systemd-analyze security printed no exposure level: {security[-300:]}")
    figures["exposure"] = float(match.group(1))
    check(figures["exposure"] <= 2.0, f"exposure {figures['exposure']} > 2.0")
    return f"active (READY=1), {line}; systemd-analyze security {figures['exposure']}"


def libgpiod_2(figures):
    libraries = run("ldd", "/usr/local/bin/gate-kiosk")
    gpiod = [l.split()[0] for l in libraries.splitlines() if "libgpiod" in l]
    check(gpiod == ["libgpiod.so.3"], f"gate-kiosk links {gpiod}, not libgpiod.so.3 (2.x)")
    old = [name for name in os.listdir("/usr/lib/x86_64-linux-gnu") if name.startswith("libgpiod.so.2")]
    check(not old, f"a libgpiod 1.x is installed here too: {old}")
    version = run("dpkg-query", "-W", "-f=${Version}", "libgpiod3")
    logged = [e for e in journal("", UNIT) if e.get("MESSAGE") == "GPIO lines requested"]
    check(logged and logged[-1].get("GPIO_LIBGPIOD") == "2.x", f"the kiosk did not log libgpiod 2.x: {logged[-1:]}")
    # The second QR engine: the guest's zxing-cpp 2.x (the shim's ReaderOptions branch), not 1.4.
    zxing = [l.split()[0] for l in libraries.splitlines() if "libZXing" in l]
    check(len(zxing) == 1 and not zxing[0].endswith(".so.1"), f"gate-kiosk links {zxing}, not zxing-cpp 2.x")
    decoder = [e for e in journal("", UNIT) if e.get("MESSAGE") == "QR decoder ready"]
    check(decoder and decoder[-1].get("DECODER_ZXING", "").startswith("2.") and decoder[-1].get("DECODER_ENGINES") == "zbar+zxing",
          f"the kiosk did not log zbar+zxing with zxing-cpp 2.x: {decoder[-1:]}")
    figures["zxing"] = decoder[-1]["DECODER_ZXING"]
    info = run("gpioinfo", "-c", read(f"{STATE}/gpio-chip"))
    held = [l for l in info.splitlines() if '"gate-kiosk"' in l and "output" in l]
    check(len(held) == 3, f"gpioinfo does not show three gate-kiosk outputs:\n{info}")
    figures["libgpiod"] = version
    return (f"libgpiod {version} (libgpiod.so.3, API 2.x, no 1.x present); gpioinfo shows 3 outputs held by gate-kiosk; "
            f"QR engines zbar+zxing with zxing-cpp {figures['zxing']} ({zxing[0]})")


def admit_then_refuse_used(figures):
    number, code = CODES[0]
    trace.clear()
    shown = feeder.show(code)
    high = wait_for(lambda: value("relay") == 1, 30)
    check(high is not None, f"relay never went high for a valid ticket (outputs {outputs()})")
    green = value("green")
    red = value("red")
    low = wait_for(lambda: value("relay") == 0, 10)
    check(low is not None, "relay stayed high")
    feeder.show("blank")
    check(green == 1 and red == 0, f"green {green}, red {red} while the relay was closed")
    figures["frame_to_relay_ms"] = round((high - shown) * 1000)
    figures["relay_polled_ms"] = round((low - high) * 1000)
    relay = [(at, level) for at, line, level in trace.events() if line == "relay"]
    rises = [at for at, level in relay if level == 1]
    falls = [at for at, level in relay if level == 0 and rises and at > rises[0]]
    check(rises and falls, f"kernel trace has no relay pulse: {relay}")
    figures["relay_pulse_traced_ms"] = round((falls[0] - rises[0]) * 1000, 1)
    figures["frame_to_relay_traced_ms"] = round((rises[0] - shown) * 1000)
    check(abs(figures["relay_pulse_traced_ms"] - RELAY_PULSE_MS) <= 50,
          f"relay pulse {figures['relay_pulse_traced_ms']} ms, configured {RELAY_PULSE_MS} ms")
    check(wait_for(lambda: value("green") == 0, 10) is not None, "green never went off")

    # The same code after the cool-down (2 s here): already used, so red and no relay.
    time.sleep(max(0, high + 2.5 - time.monotonic()))
    trace.clear()
    relay_seen = []
    shown = feeder.show(code)
    red_at = wait_for(lambda: relay_seen.append(value("relay")) or value("red") == 1, 30)
    check(red_at is not None, f"no red for a used ticket (outputs {outputs()})")
    check(value("green") == 0, "green on for a used ticket")
    wait_for(lambda: relay_seen.append(value("relay")) and False, 1.0, 0.005)
    feeder.show("blank")
    check(not any(relay_seen), "relay closed for a used ticket")
    check(not any(line == "relay" and level == 1 for _, line, level in trace.events()), "kernel trace shows the relay set for a used ticket")
    figures["frame_to_red_ms"] = round((red_at - shown) * 1000)
    check(wait_for(lambda: value("red") == 0, 10) is not None, "red never went off")
    return (f"ticket #{number}: relay high {figures['frame_to_relay_ms']} ms after the frame, pulse "
            f"{figures['relay_pulse_traced_ms']} ms (traced), green on; again: red after {figures['frame_to_red_ms']} ms, relay never set")


def journal_fields(figures):
    # journald files a datagram when it gets to it: on an emulated CPU sharing a loaded host that
    # can be seconds after the kiosk sent it, so wait for both decisions rather than read once.
    def decisions():
        return [e for e in journal("", UNIT) if e.get("MESSAGE") == "Check-in decided"]

    waited_from = time.monotonic()
    wait_for(lambda: len(decisions()) >= 2, 20, 0.25)
    figures["journal_wait_ms"] = round((time.monotonic() - waited_from) * 1000)
    decided = decisions()
    if len(decided) < 2:
        logged = [str(e.get("MESSAGE", ""))[:80] for e in journal("", UNIT)][-12:]
        suppressed = [str(e.get("MESSAGE", ""))[:120] for e in journal("", "systemd-journald.service")
                      if "uppressed" in str(e.get("MESSAGE", ""))]
        check(False, f"{len(decided)} 'Check-in decided' entries after 20 s; the unit's last entries: {logged}; "
                     f"journald: {suppressed}")
    admitted = next((e for e in decided if e.get("CHECKIN_RESULT") == "valid"), None)
    refused = next((e for e in decided if e.get("CHECKIN_RESULT") not in (None, "valid")), None)
    check(admitted is not None and refused is not None, f"results logged: {[e.get('CHECKIN_RESULT') for e in decided]}")
    for entry in (admitted, refused):
        for field in ("GATE_ID", "CHECKIN_RESULT", "CHECKIN_REASON", "TICKET_NUMBER", "CHECKIN_LATENCY_MS", "SCAN_ID"):
            check(field in entry, f"{field} missing in {sorted(k for k in entry if not k.startswith('_'))}")
    check(admitted["GATE_ID"] == "rig-1" and admitted["TICKET_NUMBER"] == CODES[0][0], "gate or ticket number wrong")
    # No secret anywhere in this boot's journal, from any unit: ticket codes (whole or the
    # token part), the device token, the admin token, the first owner's set-password link.
    everything = run("journalctl", "-b", "-o", "json", "--no-pager")
    secrets = {"device token": read("/etc/gate-kiosk/device-token"), "admin token": read("/etc/gatehouse/admin-token")}
    for number, code in CODES:
        secrets[f"ticket #{number} code"] = code
        secrets[f"ticket #{number} token"] = code.rsplit(":", 1)[-1]
    leaked = [name for name, secret in secrets.items() if secret and secret in everything]
    if "/signin/password?token=" in everything:
        leaked.append("the first owner's set-password link")
    check(not leaked, f"in the journal: {leaked}")
    # The capture loop must not flood its journal: libv4l2 prints a line for each DQBUF that finds
    # no frame, and a line per frame rotated the journal within minutes (this scenario lost its
    # own entries to it). A stray one is tolerated; one per frame is not.
    dequeue_errors = sum(1 for e in journal("", UNIT) if "error dequeuing buf" in str(e.get("MESSAGE", "")))
    figures["libv4l2_dequeue_errors"] = dequeue_errors
    check(dequeue_errors <= 5, f"{dequeue_errors} 'libv4l2: error dequeuing buf' lines in the unit's journal")
    figures["decisions_logged"] = len(decided)
    figures["latency_ms_logged"] = int(admitted["CHECKIN_LATENCY_MS"])
    return (f"fields GATE_ID CHECKIN_RESULT CHECKIN_REASON TICKET_NUMBER CHECKIN_LATENCY_MS SCAN_ID on each decision "
            f"({admitted['CHECKIN_RESULT']}, {refused['CHECKIN_RESULT']}/{refused['CHECKIN_REASON']}); "
            f"no code, token, device/admin token or set-password link in {len(everything.splitlines())} journal entries")


def camera_unplugged(figures):
    global feeder
    pid, restarts = unit_property("MainPID"), unit_property("NRestarts")
    mark = cursor()
    unplugged = feeder.unplug()
    offline = wait_for_message(mark, r"^Camera offline$", 15)
    check(offline is not None, "no 'Camera offline' after the camera went away")
    figures["unplug_to_offline_ms"] = round((entry_time(offline) - unplugged) * 1000)
    time.sleep(4)  # away for a while: the kiosk retries, and must not say so again each time
    check("Waiting for camera" in unit_property("StatusText"), f"status while away: {unit_property('StatusText')!r}")
    feeder = Feeder()
    back = time.monotonic()
    online = wait_for_message(mark, r"^Camera online$", 15)
    check(online is not None, "no 'Camera online' after the camera came back")
    figures["replug_to_online_ms"] = round((entry_time(online) - back) * 1000)
    number, code = CODES[1]
    shown = feeder.show(code)
    high = wait_for(lambda: value("relay") == 1, 30)
    feeder.show("blank")
    check(high is not None, "no relay for a valid ticket after the camera came back")
    figures["replug_to_relay_ms"] = round((high - back) * 1000)
    figures["frame_to_relay_ms"] = round((high - shown) * 1000)
    messages = [e.get("MESSAGE") for e in journal(mark)]
    figures["offline_warnings"] = messages.count("Camera offline")
    check(figures["offline_warnings"] == 1, f"'Camera offline' logged {figures['offline_warnings']} times")
    check(figures["replug_to_online_ms"] <= 2000, f"scanning again only after {figures['replug_to_online_ms']} ms")
    check(unit_property("MainPID") == pid and unit_property("NRestarts") == restarts, "the unit restarted")
    wait_for(lambda: value("green") == 0, 10)
    return (f"offline logged once ({figures['unplug_to_offline_ms']} ms after the writer closed), scanning "
            f"{figures['replug_to_online_ms']} ms after it came back, ticket #{number} admitted; same process, no restart")


def watchdog_restart(figures):
    dropin = "/run/systemd/system/gate-kiosk.service.d"
    os.makedirs(dropin, exist_ok=True)
    with open(f"{dropin}/field-rig-fault.conf", "w") as handle:
        handle.write("[Service]\nEnvironment=GATE_KIOSK_FAULT=hang-capture:6\n")
    run("systemctl", "daemon-reload")
    mark = cursor()
    run("systemctl", "restart", UNIT)
    restarts = int(unit_property("NRestarts"))
    pid = unit_property("MainPID")
    hang = wait_for_message(mark, r"test fault GATE_KIOSK_FAULT", 40)
    check(hang is not None, "the fault never fired")
    # Remove the fault at once: the restarted kiosk must come up clean.
    os.remove(f"{dropin}/field-rig-fault.conf")
    run("systemctl", "daemon-reload")
    timeout = wait_for_message(mark, r"[Ww]atchdog (timeout|request)", WATCHDOG_SEC + 20, unit=None)
    check(timeout is not None, "systemd never reported a watchdog timeout")
    figures["hang_to_watchdog_ms"] = round((entry_time(timeout) - entry_time(hang)) * 1000)
    check(wait_for(lambda: int(unit_property("NRestarts")) > restarts and unit_property("ActiveState") == "active", 60, 0.05) is not None,
          "the unit was not restarted")
    new_pid = unit_property("MainPID")
    check(new_pid != pid, "same main process after the watchdog")
    after = outputs()
    check(after == {"green": 0, "red": 0, "relay": 0}, f"outputs after the restart: {after}")
    running = [e for e in journal(mark) if e.get("MESSAGE") == "Gate kiosk running" and entry_time(e) > entry_time(timeout)]
    check(running, "the restarted kiosk never said it was running")
    figures["hang_to_running_again_ms"] = round((entry_time(running[0]) - entry_time(hang)) * 1000)
    check(figures["hang_to_watchdog_ms"] <= WATCHDOG_SEC * 1000, f"watchdog fired {figures['hang_to_watchdog_ms']} ms after the hang")
    check(wait_for(lambda: unit_property("StatusText").startswith("Scanning"), 30, 0.1) is not None, "not scanning after the restart")
    return (f"capture hung → systemd's watchdog restart {figures['hang_to_watchdog_ms']} ms later (WatchdogSec={WATCHDOG_SEC}s), "
            f"new process scanning, outputs {after}")


def watchdog_frozen(figures):
    """The whole process frozen (SIGSTOP): no ping at all, so systemd's own watchdog acts."""
    pid = unit_property("MainPID")
    restarts = int(unit_property("NRestarts"))
    mark = cursor()
    os.kill(int(pid), signal.SIGSTOP)
    frozen = time.monotonic()
    timeout = wait_for_message(mark, r"[Ww]atchdog timeout", WATCHDOG_SEC + 20, unit=None)
    check(timeout is not None, "systemd never reported a watchdog timeout for a frozen kiosk")
    figures["frozen_to_watchdog_ms"] = round((entry_time(timeout) - frozen) * 1000)
    check(wait_for(lambda: int(unit_property("NRestarts")) > restarts and unit_property("ActiveState") == "active", 60, 0.05) is not None,
          "the frozen kiosk was not restarted")
    figures["frozen_to_active_ms"] = round((time.monotonic() - frozen) * 1000)
    check(unit_property("MainPID") != pid, "same main process")
    after = outputs()
    check(after == {"green": 0, "red": 0, "relay": 0}, f"outputs after the restart: {after}")
    check(figures["frozen_to_watchdog_ms"] <= (WATCHDOG_SEC + 1) * 1000, f"watchdog fired only after {figures['frozen_to_watchdog_ms']} ms")
    check(wait_for(lambda: unit_property("StatusText").startswith("Scanning"), 30, 0.1) is not None, "not scanning after the restart")
    return (f"frozen kiosk: systemd's watchdog timeout after {figures['frozen_to_watchdog_ms']} ms, active again after "
            f"{figures['frozen_to_active_ms']} ms, outputs {after}")


def stop_and_bad_config(figures):
    number, code = CODES[2]
    trace.clear()
    feeder.show(code)
    high = wait_for(lambda: value("green") == 1, 30)
    check(high is not None, "no green for a valid ticket")
    run("systemctl", "stop", UNIT)
    figures["stop_ms"] = round((time.monotonic() - high) * 1000)
    feeder.show("blank")
    after = outputs()
    check(after == {"green": 0, "red": 0, "relay": 0}, f"outputs after systemctl stop: {after}")
    last = {}
    for _, line, level in trace.events():
        last[line] = level
    check(last.get("green") == 0, f"the kiosk did not set green off itself before exiting (trace: {last})")
    check(unit_property("ActiveState") == "inactive", f"after stop: {unit_property('ActiveState')}")

    with open(CONFIG) as handle:
        good = handle.read()
    try:
        with open(CONFIG, "a") as handle:
            handle.write("frame_rate = 500\n")
        mark = cursor()
        run("systemctl", "start", "--no-block", UNIT)
        check(wait_for(lambda: unit_property("ActiveState") == "failed", 30, 0.1) is not None,
              f"a bad config did not fail the unit: {unit_property('ActiveState')}")
        time.sleep(6)  # three times RestartSec: a restart loop would show by now
        status, restarts = unit_property("ExecMainStatus"), unit_property("NRestarts")
        check(status == "78", f"exit status {status}, expected 78")
        check(unit_property("ActiveState") == "failed" and restarts == "0", f"restarted {restarts} times")
        said = wait_for_message(mark, r"frame_rate", 5)
        check(said is not None, "the error does not name frame_rate")
        figures["bad_config_exit"] = int(status)
        message = said["MESSAGE"]
    finally:
        with open(CONFIG, "w") as handle:
            handle.write(good)
        run("systemctl", "reset-failed", UNIT, allow_failure=True)
    run("systemctl", "start", UNIT)
    check(unit_property("ActiveState") == "active", "the unit did not start again with the good config")
    return (f"stopped {figures['stop_ms']} ms after green came on, every output 0 (the kiosk set green off itself); "
            f"bad config: exit 78, failed, 0 restarts, '{message[:90]}'")


def selftest_as_documented(figures):
    # The technician's check from docs/technicians.md, after enrolling with the defaults: the unit stopped
    # (the camera and the lines have one user at a time), `sudo gate-kiosk selftest` as root, no
    # options: it must find the token where `gate-kiosk enroll` put it.
    run("systemctl", "stop", UNIT)
    feeder.show("blank")
    try:
        result = subprocess.run(["gate-kiosk", "selftest"], capture_output=True, text=True, timeout=120)
        output = result.stdout + result.stderr
        service = next((l for l in output.splitlines() if "service" in l and ("OK" in l or "FAIL" in l)), "")
        check("accepts this device's token" in service and service.startswith("OK"), f"selftest on the service: {service or output[-400:]}")
        gpio = [l for l in output.splitlines() if l.startswith("OK   GPIO")]
        check(len(gpio) == 3, f"selftest's GPIO lines: {gpio}")
        figures["selftest_exit"] = result.returncode
        figures["selftest_ok_lines"] = len([l for l in output.splitlines() if l.startswith("OK")])
    finally:
        run("systemctl", "start", UNIT)
    check(unit_property("ActiveState") == "active", "the unit did not start again after the selftest")
    return f"sudo gate-kiosk selftest (no options): {service.strip()}; {len(gpio)} GPIO lines switched; exit {figures['selftest_exit']}"


def drive(line, level):
    """Drives an input line as the wiring would: gpio-sim's pull is the outside world."""
    with open(f"{SYSFS}/sim_gpio{INPUTS[line]}/pull", "w") as handle:
        handle.write("pull-up" if level else "pull-down")


def decided_after(mark, timeout=0.0):
    """The check-in decisions logged after the cursor. journald stores an entry a moment after the
    kiosk sends it (longer under emulation), so a caller that saw a decision's outputs waits up to
    `timeout` for its entry."""
    deadline = time.monotonic() + timeout
    while True:
        decided = [e for e in journal(mark) if e.get("MESSAGE") == "Check-in decided"]
        if decided or time.monotonic() >= deadline:
            return decided
        time.sleep(0.2)


def lane_inputs(figures):
    """The fire alarm (normally closed) and the passage sensor on gpio-sim input lines, edge
    events through libgpiod 2.x, under systemd against the installed service."""
    chip = read(f"{STATE}/gpio-chip")
    with open(CONFIG) as handle:
        good = handle.read()
    drive("alarm", 1)    # the panel's NC contact closed: calm
    drive("passage", 0)
    try:
        with open(CONFIG, "a") as handle:
            handle.write(f"alarm = nc\nalarm_chip = {chip}\nalarm_line = {INPUTS['alarm']}\nalarm_clear_ms = 1000\n"
                         f"passage = sensor\npassage_chip = {chip}\npassage_line = {INPUTS['passage']}\npassage_timeout_ms = 5000\n")
        run("systemctl", "restart", UNIT)
        check(wait_for(lambda: unit_property("StatusText").startswith("Scanning"), 60, 0.1) is not None,
              f"not scanning with the inputs configured: {unit_property('StatusText')!r}")
        info = run("gpioinfo", "-c", chip)
        held = [l for l in info.splitlines() if '"gate-kiosk"' in l and "input" in l]
        check(len(held) == 2, f"gpioinfo does not show two gate-kiosk inputs:\n{info}")

        # The alarm: the contact opens; the relay must be energised within 100 ms (kernel trace).
        mark = cursor()
        trace.clear()
        opened = time.monotonic()
        drive("alarm", 0)
        check(wait_for(lambda: value("relay") == 1, 5) is not None, f"the relay did not open on the alarm: {outputs()}")
        rises = [at for at, line, level in trace.events() if line == "relay" and level == 1]
        check(rises, "kernel trace has no relay rise for the alarm")
        figures["alarm_to_relay_traced_ms"] = round((rises[0] - opened) * 1000, 1)
        check(figures["alarm_to_relay_traced_ms"] <= 100, f"relay {figures['alarm_to_relay_traced_ms']} ms after the alarm edge")
        raised = wait_for_message(mark, r"^Fire alarm:", 5)
        check(raised is not None and raised.get("ALARM") == "active" and raised.get("PRIORITY") == "1", f"alarm journal entry: {raised}")
        check(wait_for(lambda: unit_property("StatusText").startswith("FIRE ALARM"), 5, 0.1) is not None,
              f"STATUS during the alarm: {unit_property('StatusText')!r}")
        number, code = CODES[6]
        feeder.show(code)
        time.sleep(2)
        feeder.show("blank")
        check(not decided_after(mark), "a ticket was checked in during the alarm")
        check(outputs()["relay"] == 1, "the relay shut during the alarm")
        cleared_at = time.monotonic()
        drive("alarm", 1)
        check(wait_for_message(mark, r"^Fire alarm cleared", 10) is not None, "the alarm never cleared")
        check(wait_for(lambda: value("relay") == 0, 5) is not None, "the relay stayed open after the alarm")
        figures["clear_to_shut_ms"] = round((time.monotonic() - cleared_at) * 1000)

        # No passage: the admission is annulled on the service, and the ticket admits again.
        mark = cursor()
        feeder.show(code)
        check(wait_for(lambda: value("relay") == 1, 30) is not None, "no relay for a valid ticket")
        feeder.show("blank")
        timeout = wait_for_message(mark, r"^No passage", 10)
        check(timeout is not None and timeout.get("PASSAGE") == "timeout", f"no passage timeout: {timeout}")
        check(wait_for_message(mark, r"^Check-in annulled on the service", 15) is not None, "the annul never reached the service")
        mark = cursor()
        feeder.show(code)
        check(wait_for(lambda: value("relay") == 1, 30) is not None, "the ticket did not open the relay again after the annul")
        feeder.show("blank")
        # The arm turns: the contact closes for a moment (read through edge events).
        drive("passage", 1)
        time.sleep(0.2)
        drive("passage", 0)
        again = decided_after(mark, 10)
        check(again and again[0].get("CHECKIN_RESULT") == "valid", f"after the annul the ticket was {again[:1]}")
        confirmed = wait_for_message(mark, r"^Passage confirmed", 10)
        check(confirmed is not None and confirmed.get("PASSAGE") == "confirmed", "the passage was not confirmed")
        figures["passage_after_ms"] = int(confirmed.get("PASSAGE_AFTER_MS", -1))
    finally:
        with open(CONFIG, "w") as handle:
            handle.write(good)
        drive("alarm", 1)
        run("systemctl", "restart", UNIT)
    check(wait_for(lambda: unit_property("ActiveState") == "active", 60, 0.2) is not None, "the unit did not start again")
    return (f"alarm → relay {figures['alarm_to_relay_traced_ms']} ms (kernel trace), alert in the journal, no check-in during it, "
            f"shut {figures['clear_to_shut_ms']} ms after clearing (alarm_clear_ms 1000); no passage → annulled on the service → "
            f"valid again; passage confirmed after {figures['passage_after_ms']} ms")


def api(method, path, body=None):
    """The service's admin API, as an organizer's script would call it."""
    request = urllib.request.Request("http://127.0.0.1:8080" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Authorization", "Bearer " + read("/etc/gatehouse/admin-token"))
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
        return json.loads(text) if text else {}


def remote_lane_mode(figures):
    """The organizer sets free passage over the API: the lane opens at its next sync; a stop
    leaves every output off even so; cleared, the lane is normal again."""
    device = re.search(r"^device_id *= *(\S+)", read(CONFIG), re.M).group(1)
    event = read(f"{STATE}/event")
    try:
        asked = time.monotonic()
        api("PUT", f"/api/devices/{device}/lane-mode", {"mode": "free"})
        opened = wait_for(lambda: value("relay") == 1 and value("green") == 1, 15)
        check(opened is not None, f"free passage never reached the lane: {outputs()}")
        figures["api_to_relay_ms"] = round((opened - asked) * 1000)
        reported = wait_for(lambda: any(l.get("reported") == "free" for l in api("GET", f"/api/events/{event}/lanes")["lanes"]), 10, 0.2)
        check(reported is not None, "the lane never reported free passage back")
        figures["api_to_report_ms"] = round((reported - asked) * 1000)
        check(wait_for(lambda: "LANE free (organizer)" in unit_property("StatusText"), 5, 0.1) is not None,
              f"status: {unit_property('StatusText')!r}")
        run("systemctl", "stop", UNIT)
        after = outputs()
        check(after == {"green": 0, "red": 0, "relay": 0}, f"outputs after stop in free passage: {after}")
        run("systemctl", "start", UNIT)
        check(wait_for(lambda: value("relay") == 1, 30) is not None, "free passage did not come back after the restart")
    finally:
        api("PUT", f"/api/devices/{device}/lane-mode", {"mode": None})
    check(wait_for(lambda: value("relay") == 0 and value("green") == 0, 15) is not None, f"the lane stayed open: {outputs()}")
    return (f"PUT lane-mode free → relay held open in {figures['api_to_relay_ms']} ms, reported back in "
            f"{figures['api_to_report_ms']} ms; stop leaves every output 0; after a restart free again; cleared → shut")


def line_value(offset):
    return int(read(f"{SYSFS}/sim_gpio{offset}/value"))


def start_again(action="start"):
    """Starts (or restarts) the unit as a technician would after changing its config: the unit's
    start limit (10 in 2 minutes) counts these too, so the counter is reset first, as
    `systemctl reset-failed` is documented to do."""
    run("systemctl", "reset-failed", UNIT, allow_failure=True)
    run("systemctl", action, UNIT)


def reconfigure(extra):
    """Appends `extra` to the kiosk's config, restarts it and waits until it scans; returns the
    config as it was, for the caller to put back."""
    with open(CONFIG) as handle:
        good = handle.read()
    with open(CONFIG, "a") as handle:
        handle.write(extra)
    start_again("restart")
    check(wait_for(lambda: unit_property("StatusText").startswith("Scanning"), 60, 0.1) is not None,
          f"not scanning with {extra!r}: {unit_property('StatusText')!r}")
    return good


def restore(good):
    with open(CONFIG, "w") as handle:
        handle.write(good)
    start_again("restart")
    check(wait_for(lambda: unit_property("ActiveState") == "active", 60, 0.2) is not None, "the unit did not start again")


def two_way_lane_and_staff_button(figures):
    """A bidirectional lane (direction input, exit relay) with a passage sensor in relay_mode
    hold, and a list whose Child tickets wait for the staff button: all on gpio-sim lines under
    systemd against the installed service."""
    chip = read(f"{STATE}/gpio-chip")
    event = read(f"{STATE}/event")
    for name in ("direction", "attention", "passage"):
        drive(name, 0)
    listed = api("POST", f"/api/events/{event}/lists", {"name": "Family door", "gates": ["rig-1"], "attention": ["Child"]})
    child = api("POST", f"/api/events/{event}/tickets", {"quantity": 1, "ticketType": "Child"})["tickets"][0]
    good = reconfigure(
        f"direction_input = on\ndirection_chip = {chip}\ndirection_line = {INPUTS['direction']}\n"
        f"exit_relay_chip = {chip}\nexit_relay_line = {EXIT_RELAY}\n"
        f"attention_button = on\nattention_button_chip = {chip}\nattention_button_line = {INPUTS['attention']}\nattention_timeout_ms = 15000\n"
        f"passage = sensor\npassage_chip = {chip}\npassage_line = {INPUTS['passage']}\npassage_timeout_ms = 8000\nrelay_mode = hold\n")
    try:
        info = run("gpioinfo", "-c", chip)
        held = [l for l in info.splitlines() if '"gate-kiosk"' in l]
        check(len([l for l in held if "input" in l]) == 3 and len([l for l in held if "output" in l]) == 4,
              f"gpioinfo does not show 3 inputs and 4 outputs of gate-kiosk:\n{info}")

        # A Child ticket: amber, shut, until the button; then held open until the arm turns.
        mark = cursor()
        feeder.show(child["qrData"])
        waiting = wait_for_message(mark, r"^Ticket needs a look", 30)
        feeder.show("blank")
        check(waiting is not None and waiting.get("ATTENTION") == "waiting", f"no attention wait: {waiting}")
        check(wait_for(lambda: value("red") == 1 and value("green") == 1, 3) is not None, f"no amber: {outputs()}")
        time.sleep(1)
        check(value("relay") == 0 and line_value(EXIT_RELAY) == 0, f"a relay opened before the button: {outputs()}")
        pressed = time.monotonic()
        drive("attention", 1)
        opened = wait_for(lambda: value("relay") == 1, 5)
        drive("attention", 0)
        check(opened is not None, f"the button did not open the relay: {outputs()}")
        figures["button_to_relay_ms"] = round((opened - pressed) * 1000)
        time.sleep(1)
        check(value("relay") == 1, "relay_mode = hold: the relay dropped before the passage")
        drive("passage", 1)
        check(wait_for(lambda: value("relay") == 0, 3) is not None, "the relay stayed open after the passage")
        drive("passage", 0)
        check(wait_for_message(mark, r"^Passage confirmed", 5) is not None, "the passage was not confirmed")
        check(wait_for(lambda: api("GET", f"/api/tickets/{child['id']}")["status"] == "used", 5, 0.2) is not None, "the ticket is not used")
        inside = api("GET", f"/api/events/{event}/presence")["inside"]

        # The leaver presses the exit-side button: the same code goes out through the exit relay.
        time.sleep(2.5)  # the code's cool-down (cooldown_ms = 2000 here)
        drive("direction", 1)
        mark = cursor()
        feeder.show(child["qrData"])
        check(wait_for(lambda: line_value(EXIT_RELAY) == 1, 30) is not None, "the exit relay did not open")
        feeder.show("blank")
        check(value("relay") == 0, "the entry relay opened for an exit")
        left = decided_after(mark, 10)
        check(left and left[0].get("CHECKIN_RESULT") == "exit" and left[0].get("CHECKIN_DIRECTION") == "exit", f"the exit: {left[:1]}")
        drive("passage", 1)
        check(wait_for(lambda: line_value(EXIT_RELAY) == 0, 3) is not None, "the exit relay stayed open after the passage")
        drive("passage", 0)
        check(api("GET", f"/api/events/{event}/presence")["inside"] == inside - 1, "the exit did not count the holder out")
        drive("direction", 0)
        run("systemctl", "stop", UNIT)
        after = dict(outputs(), exit_relay=line_value(EXIT_RELAY))
        check(after == {"green": 0, "red": 0, "relay": 0, "exit_relay": 0}, f"outputs after stop: {after}")
    finally:
        api("DELETE", f"/api/lists/{listed['id']}")
        for name in ("direction", "attention", "passage"):
            drive(name, 0)
        restore(good)
    return (f"Child ticket: amber and shut until the staff button, relay {figures['button_to_relay_ms']} ms after the press, "
            f"held (relay_mode hold) until the passage; direction input → exit through the exit relay only, counted out; "
            f"stop leaves all four outputs 0")


def key_switch_lines(figures):
    """The key switch's three position inputs on gpio-sim lines: locked and out of order set at
    the lane outrank the organizer, are reported back, and the normal position hands it back."""
    chip = read(f"{STATE}/gpio-chip")
    event = read(f"{STATE}/event")
    device = re.search(r"^device_id *= *(\S+)", read(CONFIG), re.M).group(1)
    for name in ("key_free", "key_locked", "key_out_of_order"):
        drive(name, 0)
    good = reconfigure(
        f"mode_input = on\nmode_chip = {chip}\nmode_free_line = {INPUTS['key_free']}\nmode_locked_line = {INPUTS['key_locked']}\n"
        f"mode_out_of_order_line = {INPUTS['key_out_of_order']}\n")
    def reported():
        lane = next((l for l in api("GET", f"/api/events/{event}/lanes")["lanes"] if l["deviceId"] == device), {})
        return lane.get("reported"), lane.get("reportedSource")
    try:
        api("PUT", f"/api/devices/{device}/lane-mode", {"mode": "free"})
        check(wait_for(lambda: value("relay") == 1, 15) is not None, "the organizer's free passage did not arrive")
        turned = time.monotonic()
        drive("key_out_of_order", 1)
        check(wait_for(lambda: value("red") == 1 and value("relay") == 0, 3) is not None, f"out of order not shown: {outputs()}")
        figures["key_to_outputs_ms"] = round((time.monotonic() - turned) * 1000)
        check(wait_for(lambda: reported() == ("out_of_order", "key_switch"), 10, 0.2) is not None, f"reported: {reported()}")
        check("LANE out_of_order (key switch)" in unit_property("StatusText"), f"status: {unit_property('StatusText')!r}")
        # A stop leaves every output off in this mode too (only the fire alarm keeps the lane open).
        run("systemctl", "stop", UNIT)
        after = outputs()
        check(after == {"green": 0, "red": 0, "relay": 0}, f"outputs after stop while out of order: {after}")
        start_again()
        check(wait_for(lambda: value("red") == 1, 30) is not None, f"out of order not back after the restart: {outputs()}")
        drive("key_out_of_order", 0)
        drive("key_locked", 1)
        check(wait_for(lambda: reported() == ("locked", "key_switch"), 10, 0.2) is not None, f"reported: {reported()}")
        check(value("relay") == 0 and value("red") == 0, f"locked rests shut and dark: {outputs()}")
        run("systemctl", "stop", UNIT)
        after = outputs()
        check(after == {"green": 0, "red": 0, "relay": 0}, f"outputs after stop while locked: {after}")
        start_again()
        check(wait_for(lambda: unit_property("StatusText").startswith("LANE locked"), 30, 0.1) is not None,
              f"locked not back after the restart: {unit_property('StatusText')!r}")
        drive("key_locked", 0)
        check(wait_for(lambda: reported() == ("free", "organizer"), 10, 0.2) is not None, f"handed back: {reported()}")
        check(wait_for(lambda: value("relay") == 1, 3) is not None, "the organizer's free passage did not come back")
    finally:
        api("PUT", f"/api/devices/{device}/lane-mode", {"mode": None})
        for name in ("key_free", "key_locked", "key_out_of_order"):
            drive(name, 0)
        restore(good)
    return (f"key switch on real lines: out of order over the organizer's free passage in {figures['key_to_outputs_ms']} ms, "
            f"reported back as set by the key switch; every output 0 after a stop, out of order or locked; normal position hands the lane "
            f"back to the organizer")


def main():
    global trace
    trace = GpioTrace()
    for function in (unit_starts, libgpiod_2, admit_then_refuse_used, journal_fields, camera_unplugged, watchdog_restart, watchdog_frozen,
                     stop_and_bad_config, selftest_as_documented, lane_inputs, remote_lane_mode, two_way_lane_and_staff_button,
                     key_switch_lines):
        scenario(function)
    if feeder:
        feeder.process.kill()
    return 0 if all(result["ok"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
