"""What the web tests share: a private copy of the county sample, API keys, a running server."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

from rallypoint import Registry
from rallypoint.api.auth import add_key

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"


def copy_registry(src: Path, dst: Path) -> Path:
    """A copy made with SQLite's backup API (the session's sample is shared and may be open)."""
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def make_key(location: Path | str, name: str, role: str) -> str:
    """A new API key in the registry at ``location`` (a GeoPackage path or a PostgreSQL URL)."""
    with Registry.open(location) as reg:
        return add_key(reg, name, role)[0]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def call_json(base_url: str, method: str, path: str, key: str, body=None, if_match: str | None = None):
    """One request with an API key and a GeoJSON body; its status and its decoded JSON answer (errors too)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}
    if if_match:
        headers["If-Match"] = if_match
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``rallypoint serve`` in a subprocess on a free port of 127.0.0.1, stopped by its own process id."""

    def __init__(self, registry: Path | str, workers: int = 2, threads: int | None = None, access_log: bool = False,
                 extra_args: tuple[str, ...] = (), log_dir: Path | None = None, env: dict[str, str] | None = None):
        """``registry``: a file, or a PostGIS registry's URL (then ``log_dir`` says where the log goes); ``threads``
        None: ``rallypoint serve``'s default; ``env``: variables added to the server's environment."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", "serve", str(registry),
               "--port", str(self.port), "--workers", str(workers)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        if access_log:  # every request line goes to the log file (see read_log)
            cmd.append("--access-log")
        cmd += list(extra_args)
        if log_dir is None and "://" in str(registry):  # a database has no folder to put the log beside
            log_dir = tempfile.mkdtemp(prefix="rallypoint-serve-log-")
        log = Path(log_dir) / f"serve.{self.port}.log" if log_dir else Path(registry).with_suffix(f".{self.port}.log")
        self.log = open(log, "w")  # noqa: SIM115 (open while it runs)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env} if env else None)
        end = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/conformance", timeout=2):
                    return
            except OSError:
                if time.monotonic() > end:
                    self.stop()
                    raise RuntimeError(f"no answer from {self.url} within 60 s")
                time.sleep(0.2)

    def read_log(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def request_workers(self) -> list:
        """gunicorn's request workers (psutil processes), not the job cluster's process beside them."""
        import psutil

        out = []
        for p in psutil.Process(self.proc.pid).children():
            try:
                if "rallypoint.jobs.cluster" in " ".join(p.cmdline()):
                    continue
            except psutil.Error:  # a killed worker not yet reaped: still one of gunicorn's
                pass
            out.append(p)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
