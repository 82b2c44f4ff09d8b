#!/usr/bin/env python3
"""Codes read per corpus set, side by side: our decoder (`gate-kiosk decode`, every attempt),
bare zbar (`zbarimg`, QR only) and zxing-cpp (its Python binding, a peer in the benchmark, not a
dependency; skipped when it is not installed). Also false reads on a set of frames with no code
(noise, stripes, checkerboards, gratings, print-like blocks), made here with a fixed seed.

    decoders.py CORPUS_DIR GATE_KIOSK_BINARY

A code counts as read when its text (trailing CR/LF trimmed, line ends as LF) is in what the
decoder printed for that image; anything else it printed is a false read. Texts are compared as
UTF-8 (our decoder's and zxing-cpp's text; zbarimg's own character-set guess).
"""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

CORPUS, KIOSK = sys.argv[1], sys.argv[2]

try:
    import numpy
    import zxingcpp
except ImportError:
    zxingcpp = None


def read_pgm(path):
    with open(path, "rb") as handle:
        data = handle.read()
    fields, index = [], 0
    while len(fields) < 4:
        while data[index:index + 1].isspace():
            index += 1
        if data[index:index + 1] == b"#":
            index = data.index(b"\n", index)
            continue
        start = index
        while not data[index:index + 1].isspace():
            index += 1
        fields.append(data[start:index])
    width, height = int(fields[1]), int(fields[2])
    return width, height, data[index + 1:index + 1 + width * height]


def expected_codes(path):
    base = path[:-4]
    if os.path.exists(base + ".txt"):
        with open(base + ".txt", encoding="utf-8") as handle:
            return [handle.read()]
    with open(base + ".json", encoding="utf-8") as handle:
        return json.load(handle)["codes"]


def normal(text):
    return text.replace("\r\n", "\n").rstrip("\r\n")


# Real codes in the photos that the ground truth leaves out: zxing-qrcode-2/16 is a "double QR"
# demo with a second code inside the first; its text means "[inner QR code]".
UNLABELED = ["[内側QRコード]\n\n*ダブルQR*\nhttp://d-qr.net/ex/"]


def score(printed, codes):
    """(codes read, false reads): each expected text found and removed; whatever is left is false."""
    left = printed.replace("\r\n", "\n")
    for known in UNLABELED:
        left = left.replace(known, "", 1)
    found = 0
    for code in sorted(codes, key=len, reverse=True):
        wanted = normal(code)
        if wanted and wanted in left:
            found += 1
            left = left.replace(wanted, "", 1)
    return found, len([line for line in left.split("\n") if line.strip()])


def text(raw):
    """Payload bytes as text: UTF-8, else Shift_JIS (the Japanese codes of zxing-qrcode-2), line by line."""
    lines = []
    for line in raw.split(b"\n"):
        for encoding in ("utf-8", "shift_jis", "latin-1"):
            try:
                lines.append(line.decode(encoding))
                break
            except UnicodeDecodeError:
                continue
    return "\n".join(lines)


def ours(path):
    # Our decoder prints payloads as raw bytes (binary mode): the text is decoded here.
    return text(subprocess.run([KIOSK, "decode", path], capture_output=True).stdout)


def zbarimg(path):
    return text(subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", path], capture_output=True).stdout)


def zxing(path):
    width, height, pixels = read_pgm(path)
    image = numpy.frombuffer(pixels, dtype=numpy.uint8).reshape(height, width)
    started = time.perf_counter()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    zxing.times.append(time.perf_counter() - started)
    return "\n".join(code.text for code in found)


zxing.times = []


def no_code_frames(folder, width=640, height=480):
    """Frames a gate camera might see with no code in them, written as PGM files."""
    rng = random.Random(20261202)
    frames = []

    def write(name, pixel):
        data = bytearray(width * height)
        for y in range(height):
            row = y * width
            for x in range(width):
                data[row + x] = pixel(x, y) & 255
        path = os.path.join(folder, name + ".pgm")
        with open(path, "wb") as handle:
            handle.write(f"P5\n{width} {height}\n255\n".encode() + bytes(data))
        frames.append(path)

    noise = [rng.randrange(256) for _ in range(width * height)]
    write("noise-uniform", lambda x, y: noise[y * width + x])
    write("noise-binary", lambda x, y: 230 if noise[y * width + x] > 127 else 25)
    for size in (3, 8, 21):
        write(f"checker-{size}", lambda x, y, s=size: 230 if (x // s + y // s) % 2 else 25)
    for period in (4, 11):
        write(f"stripes-{period}", lambda x, y, p=period: 230 if (x // p) % 2 else 25)
    import math
    write("grating", lambda x, y: int(128 + 100 * math.sin(x * 0.35) * math.sin(y * 0.31)))
    write("gradient", lambda x, y: (x + y) * 255 // (width + height))
    blocks = [(rng.randrange(width), rng.randrange(height), rng.randrange(4, 40), rng.randrange(4, 40)) for _ in range(400)]
    grid = bytearray([215]) * (width * height)
    for bx, by, bw, bh in blocks:
        for yy in range(by, min(height, by + bh)):
            grid[yy * width + bx:yy * width + min(width, bx + bw)] = bytes([30]) * (min(width, bx + bw) - bx)
    write("print-blocks", lambda x, y: grid[y * width + x])
    # Three finder-like squares and nothing between them: a half-drawn code must not read.
    def finders(x, y):
        for cx, cy in ((100, 100), (400, 100), (100, 400)):
            dx, dy = abs(x - cx), abs(y - cy)
            ring = max(dx, dy)
            if ring < 35:
                return 25 if ring < 10 or 20 <= ring < 35 else 230
        return 230
    write("finders-only", finders)
    # A phone screen up close: its pixel grid beating against the sensor's (moiré), no code on it.
    write("screen-grid", lambda x, y: int(140 + 60 * math.sin(x * 2.1) * math.sin(y * 1.9) + 30 * math.sin(x * 0.05 + y * 0.03)))
    # A printed page: lines of word-like dark blocks with gaps, as on a ticket's small print.
    words = [(rng.randrange(8, 60), rng.randrange(3, 12)) for _ in range(2000)]

    def text_lines(x, y):
        line, within = divmod(y, 18)
        if within >= 10:
            return 235
        offset, index = (x + line * 37) % 700, line * 13
        while offset > 0:
            length, gap = words[index % len(words)]
            if offset < length:
                return 30
            offset -= length + gap
            index += 1
        return 235
    write("text-lines", text_lines)
    return frames


def main():
    sets = sorted(name for name in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, name)))
    decoders = [("ours", ours), ("zbarimg", zbarimg)] + ([("zxing-cpp", zxing)] if zxingcpp else [])
    print("Codes read per set (and false reads), in one run" + ("" if zxingcpp else "; zxing-cpp skipped: pip install zxing-cpp numpy"))
    print(f"{'set':<20}{'codes':>7}" + "".join(f"{name:>16}" for name, _ in decoders))
    totals = {name: [0, 0] for name, _ in decoders}
    total_codes = 0
    for name in sets:
        folder = os.path.join(CORPUS, name)
        images = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".pgm"))
        codes = 0
        per = {decoder: [0, 0] for decoder, _ in decoders}
        for image in images:
            expected = expected_codes(image)
            codes += len(expected)
            for decoder, run in decoders:
                read, false = score(run(image), expected)
                per[decoder][0] += read
                per[decoder][1] += false
        total_codes += codes
        for decoder in per:
            totals[decoder][0] += per[decoder][0]
            totals[decoder][1] += per[decoder][1]
        print(f"{name:<20}{codes:>7}" + "".join(f"{per[d][0]:>10} ({per[d][1]:>2})" for d, _ in decoders))
    print(f"{'all sets':<20}{total_codes:>7}" + "".join(f"{totals[d][0]:>10} ({totals[d][1]:>2})" for d, _ in decoders))
    with tempfile.TemporaryDirectory() as folder:
        frames = no_code_frames(folder)
        false = {decoder: sum(1 for frame in frames if run(frame).strip()) for decoder, run in decoders}
    print(f"{'no-code frames':<20}{len(frames):>7}" + "".join(f"{'':>10} ({false[d]:>2})" for d, _ in decoders))
    if zxingcpp and zxing.times:
        print(f"zxing-cpp time per corpus image: median {statistics.median(zxing.times) * 1000:.1f} ms (its binding, in this process)")


if __name__ == "__main__":
    main()
