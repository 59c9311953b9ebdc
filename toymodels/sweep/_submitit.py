"""Chunks of a sweep as submitit jobs (SLURM on a cluster, local processes elsewhere)."""

import time
from collections.abc import Callable, Sequence
from typing import Any


def _poll_interval(executor) -> float:
    """Seconds between status checks: short for local processes, longer on a cluster
    (submitit also rate-limits its own `sacct` calls)."""
    import submitit

    local = (submitit.LocalExecutor, submitit.DebugExecutor)
    inner = getattr(executor, "_executor", executor)  # AutoExecutor wraps the real one
    return 0.1 if isinstance(inner, local) else 5.0


def run_jobs(executor, job: Callable, items: Sequence[tuple[Any, Any]], done: Callable) -> None:
    """Submit `job(task)` for every `(chunk, task)` in `items` as one job array and call
    `done(chunk, result)` as the jobs finish. A failed job cancels the others and raises
    with the job's id and log file; an interrupt (Ctrl-C) leaves them running, so that
    what they compute still reaches the store."""
    chunks = [c for c, _ in items]
    jobs = executor.map_array(job, [t for _, t in items])
    which = {id(j): c for j, c in zip(jobs, chunks)}
    poll = _poll_interval(executor)
    pending = list(jobs)
    try:
        while pending:
            finished = [j for j in pending if j.done()]
            for j in finished:
                pending.remove(j)
                c = which[id(j)]
                try:
                    out = j.result()
                except Exception as err:
                    err.add_note(
                        f"sweep: chunk {c.index} (group {c.group}) failed as submitit job "
                        f"{j.job_id}; its log: {j.paths.stderr}"
                    )
                    raise
                done(c, out)
            if pending and not finished:
                time.sleep(poll)
    except Exception:
        for j in pending:
            try:
                j.cancel(check=False)
            except Exception:  # pragma: no cover - best effort
                pass
        raise
