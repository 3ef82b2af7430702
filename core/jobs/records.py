"""The jobs folder: one folder per analysis run (a job), named by its id, seen alike by every process.

    <root>/<job>/request.json   what was asked: process, inputs, author, language, created (written first, once)
    <root>/<job>/status.json    how far the run is: running, progress 0-100, its step, updated (the runner's)
    <root>/<job>/job.json       how it ended: successful (summary, outputs), failed (the reason) or dismissed
    <root>/<job>/result.gpkg, report.html, <output>.geojson   the results of a successful run

Each file has one kind of writer and is replaced atomically (written beside, then renamed), so a reader never
sees half a file and no lock is needed. ``job.json`` is written once: the first writer wins (``os.link`` fails
when it exists), so a run finishing and a dismissal or a failure noticed by the server cannot both be recorded;
the loser takes its results away. A folder with ``job.json`` is a finished job; its ``job.json`` holds
everything about it (as the manifests of finished runs always did).

The state is in files, not in a process's memory, so whichever server worker answers sees every job, and a job
outlives the worker that started it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

JOB_ID = re.compile(r"[0-9a-f]{32}")
KEY_PREFIX = "rallypoint-job-"  # a job's task on the engine, and the name it is published under
UNFINISHED_GRACE_S = 3600  # a folder left without a request or an end after this long is removed
TERMINAL = ("successful", "failed", "dismissed")
_KEEP = ("request.json", "status.json", "job.json")


def key_of(job_id: str) -> str:
    return KEY_PREFIX + job_id


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuidlib.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # cannot happen with atomic writes; a folder someone edited by hand is unfinished
        return None


@dataclass
class Job:
    """A job as every process sees it: the request, and how far it got."""

    id: str
    folder: Path
    process: str
    inputs: dict[str, Any]
    author: str | None
    lang: str
    created: str
    status: str = "accepted"
    progress: int | None = None
    message: str = ""
    message_zh: str = ""
    step: str | None = None
    started: str | None = None
    finished: str | None = None
    updated: str | None = None
    summary: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, int] = field(default_factory=dict)
    report: bool = False
    submitted: bool = False  # sent to the engine (a job the engine then does not know was lost)
    http_status: int | None = None  # of a failed job: what asking for its results answers
    code: str | None = None  # of a failed job: the OGC exception code

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


def new_job(root: Path, process: str, inputs: dict[str, Any], author: str | None, lang: str) -> Job:
    """Make the folder of a new job and record what was asked (status ``accepted``)."""
    job = uuidlib.uuid4().hex
    folder = Path(root) / job
    folder.mkdir(parents=True)
    request = {"jobID": job, "processID": process, "inputs": inputs, "author": author, "lang": lang,
               "created": now_iso()}
    _write(folder / "request.json", request)
    return _job(folder, request, None, None)


def mark_submitted(job: Job) -> None:
    """Record that ``job`` was handed to the engine (by the process that made it: the request's one writer)."""
    request = _read(job.folder / "request.json")
    if request is not None:
        _write(job.folder / "request.json", {**request, "submitted": True})
    job.submitted = True


def folder_of(root: Path, job: str) -> Path | None:
    """The folder of job ``job``, or None for a name that is not a job's (never a path outside ``root``)."""
    if not JOB_ID.fullmatch(job):
        return None
    folder = Path(root) / job
    return folder if folder.is_dir() else None


def read(root: Path, job: str) -> Job | None:
    """Job ``job`` as its files say, or None when there is no such job."""
    folder = folder_of(root, job)
    if folder is None:
        return None
    end = _read(folder / "job.json")
    request = _read(folder / "request.json")
    if request is None:
        request = end  # a finished run of the older layout keeps everything in its manifest
    if request is None:
        return None  # a folder being made, or left half-made
    return _job(folder, request, _read(folder / "status.json"), end)


def _job(folder: Path, request: dict[str, Any], status: dict[str, Any] | None, end: dict[str, Any] | None) -> Job:
    job = Job(id=request["jobID"], folder=folder, process=request["processID"], inputs=request.get("inputs", {}),
              author=request.get("author"), lang=request.get("lang", "zh"), created=request.get("created", ""),
              submitted=bool(request.get("submitted")))
    for doc in (status, end):
        if doc:
            for key, attr in (("status", "status"), ("progress", "progress"), ("message", "message"),
                              ("message_zh", "message_zh"), ("step", "step"), ("started", "started"),
                              ("finished", "finished"), ("updated", "updated"), ("summary", "summary"),
                              ("warnings", "warnings"), ("outputs", "outputs"), ("report", "report"),
                              ("http_status", "http_status"), ("code", "code")):
                if key in doc:
                    setattr(job, attr, doc[key])
    if end and end.get("status") not in TERMINAL:  # a manifest of the older layout: a finished run
        job.status = "successful"
    return job


def write_status(folder: Path, *, progress: int, step: str | None, started: str) -> None:
    """The runner's record of how far it is (a running job), and which process runs it (for the log)."""
    _write(folder / "status.json", {"status": "running", "progress": progress, "step": step,
                                    "message": f"step {step}" if step else "", "started": started,
                                    "updated": now_iso(), "pid": os.getpid()})


def finish(job: Job, status: str, *, message: str = "", message_zh: str = "", **more: Any) -> bool:
    """Record how ``job`` ended, unless someone already did (then False: the first writer wins)."""
    assert status in TERMINAL, status
    previous = _read(job.folder / "status.json") or {}
    doc = {"jobID": job.id, "processID": job.process, "inputs": job.inputs, "author": job.author,
           "lang": job.lang, "created": job.created, "started": previous.get("started") or job.started,
           "status": status, "message": message, "message_zh": message_zh, "finished": now_iso(),
           "updated": now_iso(), "progress": 100 if status == "successful" else previous.get("progress"),
           "step": previous.get("step"), **more}
    target = job.folder / "job.json"
    tmp = job.folder / f".job.json.{os.getpid()}.{uuidlib.uuid4().hex[:8]}.tmp"
    try:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
        os.link(tmp, target)  # atomic, and refused when job.json exists: one end per job
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:  # the job was removed meanwhile
        return False
    finally:
        tmp.unlink(missing_ok=True)


def is_finished(folder: Path) -> bool:
    return (folder / "job.json").exists()


def clear_results(folder: Path) -> None:
    """Remove a job's results, keeping its records (a dismissed job stays listed as dismissed)."""
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name in _KEEP:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def all_jobs(root: Path) -> list[Job]:
    """Every job of the folder, newest first."""
    out = []
    root = Path(root)
    if not root.is_dir():
        return out
    for folder in root.iterdir():
        if folder.is_dir() and JOB_ID.fullmatch(folder.name):
            job = read(root, folder.name)
            if job is not None:
                out.append(job)
    out.sort(key=lambda j: j.created, reverse=True)
    return out


def sweep_jobs(root: Path, ttl_hours: float, now: float | None = None, *, unfinished_too: bool = True) -> list[str]:
    """Remove finished jobs older than ``ttl_hours`` and folders left unfinished; the jobs removed.

    A finished job's age is its ``job.json``'s. An unfinished folder (no ``job.json``) is removed after an hour
    without a change when it has no request (it was never made whole), or when ``unfinished_too`` (no engine
    runs jobs outside this process, so a run that stopped changing an hour ago died with its worker). With an
    engine, the server asks the engine first: a job it lost gets its end recorded, then ages like any other.
    """
    now = time.time() if now is None else now
    removed = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        if not (folder.is_dir() and JOB_ID.fullmatch(folder.name)):
            continue
        manifest = folder / "job.json"
        try:
            if manifest.exists():
                age, limit = now - manifest.stat().st_mtime, ttl_hours * 3600
            else:
                stamps = [p.stat().st_mtime for p in (folder / "status.json", folder / "request.json") if p.exists()]
                if stamps and not unfinished_too:
                    continue
                age, limit = now - max(stamps or [folder.stat().st_mtime]), UNFINISHED_GRACE_S
        except FileNotFoundError:  # another worker removed it meanwhile
            continue
        if age > limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
