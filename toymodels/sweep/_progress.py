"""A progress bar with an ETA: tqdm when installed, a one-line fallback otherwise."""

import sys
import time


def _fmt(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class SimpleProgress:
    """`done/total chunks, elapsed, ETA` on one line of `stream` (stderr by default).

    The ETA extrapolates the mean time of the chunks computed in this run (chunks found in
    the store count as done but not towards the rate)."""

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        desc: str = "sweep",
        stream=None,
        min_interval: float = 0.5,
    ):
        self.total, self.done, self.initial = total, initial, initial
        self.desc, self.stream = desc, sys.stderr if stream is None else stream
        self.min_interval = min_interval
        self.t0 = time.perf_counter()
        self._last = -float("inf")
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
            f"{self.desc}: {self.done}/{self.total} chunks, "
            f"{_fmt(time.perf_counter() - self.t0)} elapsed, "
            f"ETA {'?' if eta is None else _fmt(eta)}"
        )

    def _draw(self, *, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last >= self.min_interval:
            self._last = now
            self.stream.write("\r" + self.text())
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        self._draw(force=self.done >= self.total)

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(enabled: bool | None, total: int, initial: int, desc: str):
    """tqdm if installed, else `SimpleProgress`; nothing when disabled (None: only when
    stderr is a terminal)."""
    if enabled is None:
        enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not enabled:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        return SimpleProgress(total, initial=initial, desc=desc)
    return tqdm(total=total, initial=initial, desc=desc, unit="chunk", smoothing=0.1)
