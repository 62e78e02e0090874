"""Stopping gunicorn (SIGTERM, as systemd does) loses no request it has taken: the requests its
workers hold finish, and so do the connections queued on the listening socket behind them,
which plain gunicorn resets (deploy/gunicorn.conf.py's ``worker_exit`` answers them). After
the last worker has gone a new connection is refused, which a proxy retries elsewhere."""

from __future__ import annotations

import signal
import socket
import threading
import time

from bench.http import Server
from tests.conftest import separate_database
from tests.reliability.test_db_hang import start_gunicorn

WORKERS = 2
SLOW = WORKERS  # clients that keep every worker busy by sending their request slowly
QUEUED = 6  # more clients than workers: these wait in the listen backlog
GRACEFUL_TIMEOUT = 20
REQUEST = b"GET /report HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def _fetch(port: int, slow: bool) -> str:
    """The response's status, checked complete against its Content-Length, or the error."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=40) as conn:
            if slow:  # the worker has taken the connection and waits for the headers
                conn.sendall(REQUEST[:12])
                time.sleep(2)
                conn.sendall(REQUEST[12:])
            else:
                conn.sendall(REQUEST)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    except OSError as exc:
        return type(exc).__name__
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":")
                                                               for line in lines[1:])}
    if int(headers.get("content-length", -1)) != len(body):
        return f"incomplete ({len(body)} of {headers.get('content-length')} bytes)"
    return lines[0].split(" ")[1]


def test_in_flight_and_queued_requests_finish_when_gunicorn_gets_sigterm(tmp_path) -> None:
    with separate_database(tmp_path, "shutdown") as seeded:
        server = Server(seeded.config["DATABASE_URL"], tmp_path)
        server.env.update({"PORTAL_WORKERS": str(WORKERS),
                           "PORTAL_GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT)})
        start_gunicorn(server)
        assert server.process is not None
        try:
            results: dict[int, str] = {}

            def client(i: int) -> None:
                results[i] = _fetch(server.port, slow=i < SLOW)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(SLOW + QUEUED)]
            for thread in threads[:SLOW]:
                thread.start()
            time.sleep(0.5)  # every worker holds a slow client
            for thread in threads[SLOW:]:
                thread.start()
            time.sleep(0.5)  # the others are queued behind them
            stopped_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            for thread in threads:
                thread.join()
            exit_code = server.process.wait(timeout=GRACEFUL_TIMEOUT + 10)
            stop_seconds = time.monotonic() - stopped_at
        finally:
            server.stop()
        log = server.log_path.read_text()
    print(f"stopped in {stop_seconds:.1f} s;", results)
    assert [results[i] for i in range(SLOW)] == ["200"] * SLOW, "in-flight requests were cut"
    assert [results[i] for i in range(SLOW, SLOW + QUEUED)] == ["200"] * QUEUED, \
        "queued requests were reset"
    assert exit_code == 0 and stop_seconds < GRACEFUL_TIMEOUT, "workers were killed"
    assert "Traceback" not in log
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    except ConnectionRefusedError:
        pass  # refused before anything was sent: safe for the proxy to retry, POSTs too
    else:
        raise AssertionError("the stopped server still accepts connections")
