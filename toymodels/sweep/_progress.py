"""Progress with an ETA: a redrawn line on a terminal (tqdm when installed), whole lines in
a log file or any other stream that is not a terminal."""

import sys
import time


def _fmt(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class SimpleProgress:
    """`done/total points, elapsed, ETA` written to `stream` (stderr by default).

    On a terminal the line is redrawn in place (carriage return), at most every
    `min_interval` seconds (default 0.5). On anything else (a SLURM log, a file, a pipe)
    each report is a whole line ending in a newline, with no carriage returns, at most one
    every `min_interval` seconds (default 2); the last report is always written. The ETA
    extrapolates the mean rate of the points computed in this run (points found in the
    store count as done, not towards the rate)."""

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        desc: str = "sweep",
        unit: str = "points",
        stream=None,
        min_interval: float | None = None,
    ):
        self.total, self.done, self.initial = total, initial, initial
        self.desc, self.unit = desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.terminal = _is_terminal(self.stream)
        if min_interval is None:
            min_interval = 0.5 if self.terminal else 2.0
        self.min_interval = min_interval
        self.t0 = time.perf_counter()
        self._last = -float("inf")
        self._written = None
        self._draw(force=True)

    def eta(self) -> float | None:
        new = self.done - self.initial
        if new <= 0:
            return None
        rate = (time.perf_counter() - self.t0) / new
        return rate * (self.total - self.done)

    def text(self) -> str:
        eta = self.eta()
        return (
            f"{self.desc}: {self.done}/{self.total} {self.unit}, "
            f"{_fmt(time.perf_counter() - self.t0)} elapsed, "
            f"ETA {'?' if eta is None else _fmt(eta)}"
        )

    def _draw(self, *, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last >= self.min_interval:
            self._last = now
            self._written = self.done
            text = self.text()
            self.stream.write("\r" + text if self.terminal else text + "\n")
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        self._draw(force=self.done >= self.total)

    def close(self) -> None:
        if self.terminal:
            self.stream.write("\n")
        elif self._written != self.done:  # the state at the end, if not reported yet
            self.stream.write(self.text() + "\n")
        self.stream.flush()


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(enabled: bool | None, total: int, initial: int, desc: str):
    """Nothing when disabled (None: only when stderr is a terminal); on a terminal, tqdm if
    installed, else `SimpleProgress`; whole lines (`SimpleProgress`) on anything else."""
    terminal = _is_terminal(sys.stderr)
    if enabled is None:
        enabled = terminal
    if not enabled:
        return _NoProgress()
    if terminal:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(total=total, initial=initial, desc=desc, unit="point", smoothing=0.1)
    return SimpleProgress(total, initial=initial, desc=desc)
