"""``riffgen batch``: many jobs from a JSONL file, locally or through Ray Data, resumable.

:mod:`~riffgen.batch.jobs` reads and checks the lines, :mod:`~riffgen.batch.run` runs one job
and the local loop, :mod:`~riffgen.batch.ray_runner` the same jobs on a Ray cluster (imported
only with ``--ray``: Ray is an optional extra).
"""

from riffgen.batch.jobs import Job, LineError, read_jobs
from riffgen.batch.run import BatchReport, JobResult, RunSettings, run_batch, run_local

__all__ = [
    "BatchReport",
    "Job",
    "JobResult",
    "LineError",
    "RunSettings",
    "read_jobs",
    "run_batch",
    "run_local",
]
