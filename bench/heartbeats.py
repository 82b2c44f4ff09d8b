"""A fleet of simulated kiosks for the service benchmark: each device keeps one connection open
and posts a heartbeat (the figures a real kiosk sends) every INTERVAL seconds, the fleet spread
evenly over the interval, for DURATION seconds. Prints heartbeats sent, answered 204, and other
answers. Usage: heartbeats.py URL DEVICES_FILE DURATION [INTERVAL]; DEVICES_FILE lines are
"deviceId<TAB>gateId<TAB>token"."""
import asyncio
import json
import sys
import time
from urllib.parse import urlparse


async def device(host, port, device_id, gate_id, token, start, interval, until, counts):
    await asyncio.sleep(max(0, start - time.monotonic()))
    reader, writer = await asyncio.open_connection(host, port)
    beat = 0
    while time.monotonic() < until:
        beat += 1
        body = json.dumps({
            "deviceId": device_id, "gateId": gate_id, "version": "2026.12.1", "uptimeSeconds": beat * interval,
            "camera": "ok", "framesPerSecond": 15.0, "decoder": "zbar+zxing", "codesPerMinute": 4.0,
            "lastDecision": "valid", "online": True, "snapshotAgeSeconds": 1, "snapshotTickets": 5000,
            "backlog": 0, "clockTrusted": True, "laneMode": "normal", "diskFreeBytes": 12_000_000_000,
            "diskFreePercent": 80.0, "cpuTemperatureCelsius": 51.5, "undervoltage": False, "throttled": False,
        }).encode()
        writer.write(
            f"POST /api/devices/{device_id}/heartbeat HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        counts["sent"] += 1
        status = int(status_line.split()[1]) if status_line else 0
        counts["ok" if status == 204 else "other"] += 1
        await asyncio.sleep(interval)
    writer.close()


async def main():
    url, devices_file, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    target = urlparse(url)
    fleet = [line.rstrip("\n").split("\t") for line in open(devices_file) if line.strip()]
    counts = {"sent": 0, "ok": 0, "other": 0}
    now = time.monotonic()
    until = now + duration
    await asyncio.gather(*[
        device(target.hostname, target.port, d, g, t, now + interval * i / len(fleet), interval, until, counts)
        for i, (d, g, t) in enumerate(fleet)
    ])
    print(f"heartbeats: {counts['sent']} sent by {len(fleet)} devices, {counts['ok']} answered 204, {counts['other']} otherwise")


asyncio.run(main())
