"""The API's settings: page sizes, body limit, where analysis jobs keep their results."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..storage import location_key

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_BODY_BYTES = 1_000_000
#: a push's whole change set comes in one request (``POST /transactions``)
MAX_TRANSACTION_BYTES = 64_000_000
JOB_TTL_HOURS = 7 * 24.0
SYNC_SECONDS = 10.0


@dataclass(frozen=True)
class ApiConfig:
    """Settings of one API instance (one registry: a file, or a PostGIS database's ``postgresql://`` URL).

    ``jobs_dir`` must be the same for every worker process serving the registry, so a
    job's results are found whichever worker answers: by default it is derived from the
    registry's path under the system's temporary folder.
    """

    registry_path: Path | str  # a file's path, or a PostgreSQL URL (str)
    default_limit: int = DEFAULT_LIMIT
    max_limit: int = MAX_LIMIT
    max_body_bytes: int = MAX_BODY_BYTES
    max_transaction_bytes: int = MAX_TRANSACTION_BYTES
    jobs_dir: Path | None = None
    title: str | None = None
    job_ttl_hours: float = JOB_TTL_HOURS  # finished runs older than this are removed
    # the job engine (a Dask cluster; see rallypoint.jobs.engine): its scheduler's address, or the scheduler
    # file of the local cluster `rallypoint serve` starts; neither: analyses run inside the request
    jobs_scheduler: str | None = None
    jobs_scheduler_file: Path | None = None
    sync_seconds: float = SYNC_SECONDS  # how long a run asked without Prefer: respond-async is waited for

    def job_root(self) -> Path:
        if self.jobs_dir is not None:
            return Path(self.jobs_dir)
        digest = hashlib.sha1(location_key(self.registry_path).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"rallypoint-jobs-{digest}"
