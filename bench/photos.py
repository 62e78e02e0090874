"""CPU per 12 MP phone photo in the upload pipeline, and reports/s with one, before and after
decoding large JPEGs at reduced scale (issue 19).

    python -m bench.photos [--runs 15]
    python -m bench.photos --database-url sqlite:////tmp/bench.db [--duration 10]

"before" is the pipeline as it was: a 2560 px maximum edge, at which libjpeg cannot reduce a
4000×3000 photo (half would be 2000), so it is decoded whole and then resized; "after" is
PORTAL_PHOTO_MAX_EDGE's default, decoded at half scale. CPU is process time, the median of
`--runs`; the photo-bound ceiling is this machine's cores over it (the rest of the request not
counted). With --database-url (a database made by bench.seed) POST /report with the photo is
also measured under gunicorn, as bench.http runs it, once per setting, with the workers' CPU
per report: the client shares this machine's cores, so req/s understates the server.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

from bench.http import Server
from portal.config import DEFAULTS, ROOT
from portal.domain.reporting.uploads import UploadLimits, process_image

BEFORE_EDGE = 2560
SETTINGS = (("before", BEFORE_EDGE), ("after", DEFAULTS["PHOTO_MAX_EDGE"]))


def phone_photo(size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A 12 MP JPEG of about 5 MB, held upright (EXIF orientation 6), with GPS.

    Grain on gradients and lines, so that it costs libjpeg about what a real photo does (a
    flat picture would decode several times faster)."""
    width, height = size
    base = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                               Image.radial_gradient("L").resize(size),
                               Image.linear_gradient("L").rotate(90).resize(size)])
    grain = Image.frombytes("RGB", size, os.urandom(width * height * 3))
    image = Image.blend(base, grain, 0.25)
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 97):
        draw.line([(x, 0), (width - x, height)], fill=(255 - x % 255, x % 255, 90), width=3)
    exif = image.getexif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (36.0, 10.0, 0.0), 3: "E", 4: (113.0, 20.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def cpu_per_photo(raw: bytes, max_edge: int, runs: int) -> tuple[float, tuple[int, int]]:
    limits = UploadLimits(DEFAULTS["MAX_PHOTO_BYTES"], DEFAULTS["MAX_PHOTO_PIXELS"], max_edge)
    result = process_image(raw, limits)  # warm
    times = []
    for _ in range(runs):
        started = time.process_time()
        process_image(raw, limits)
        times.append(time.process_time() - started)
    return statistics.median(times), (result.width, result.height)


def over_http(raw: bytes, args: argparse.Namespace) -> None:
    from bench.faults import form_choices
    from bench.http import GUNICORN_WORKERS, ReportPost, measure

    ids = form_choices(args.database_url)
    tmp = Path(args.tmp or ROOT / "instance" / "bench-photos-tmp")
    for name, edge in SETTINGS:
        server = Server(args.database_url, tmp / name)
        server.env["PORTAL_PHOTO_MAX_EDGE"] = str(edge)
        server.start()
        try:
            endpoint = ReportPost(f"POST /report + 12 MP photo ({name})", ids=ids, photo=raw)
            measure(server.port, endpoint, concurrency=GUNICORN_WORKERS, duration=1.0)
            cpu_before = _workers_cpu(server)
            figure = measure(server.port, endpoint, concurrency=args.concurrency,
                             duration=args.duration)
            cpu = (_workers_cpu(server) - cpu_before) / max(1, figure.requests)
        finally:
            server.stop()
        print(f"  {figure.name:40s} {figure.rps:6.1f} reports/s  p50 {figure.p50_ms:6.0f} ms"
              f"  errors {figure.errors}; worker CPU {cpu * 1000:4.0f} ms per report, ceiling "
              f"{(os.cpu_count() or 1) / cpu:5.1f} reports/s", flush=True)


def _workers_cpu(server: Server) -> float:
    """CPU seconds the gunicorn workers have used: unlike req/s it does not count the client,
    which runs on the same cores, nor other load on a shared machine."""
    assert server.process is not None
    pids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
                          capture_output=True, text=True).stdout.split()
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tmp", default="")
    args = parser.parse_args(argv)
    raw = phone_photo()
    cores = os.cpu_count() or 1
    print(f"12 MP phone photo, {len(raw) / 1e6:.1f} MB, {cores} cores")
    for name, edge in SETTINGS:
        cpu, stored = cpu_per_photo(raw, edge, args.runs)
        print(f"  {name:6s} max edge {edge}: {cpu * 1000:5.0f} ms CPU per photo, stored "
              f"{stored[0]}×{stored[1]}; photo-bound ceiling {cores / cpu:5.1f} reports/s",
              flush=True)
    if args.database_url:
        over_http(raw, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
