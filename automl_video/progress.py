"""Progress of long work as periodic log lines on stderr: done/total, rate and ETA."""

import logging
import sys
import time

log = logging.getLogger("automl_video")


def setup_logging(verbose: bool = False) -> None:
    """Logs and progress go to stderr so stdout stays machine-readable (``--json``)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class Progress:
    """Logs ``what: done/total (pct) rate unit/s, ETA`` at most every ``interval`` seconds."""

    def __init__(self, what: str, total: float | None, unit: str = "items", interval: float = 5.0):
        self.what = what
        self.total = total
        self.unit = unit
        self.interval = interval
        self.done = 0.0
        self.started = time.monotonic()
        self._last_log = self.started

    def update(self, amount: float = 1.0) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self._last_log >= self.interval:
            self._last_log = now
            log.info("%s", self.line())

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        if self.total:
            remaining = max(self.total - self.done, 0.0)
            eta = f"{remaining / rate:.0f}s" if rate > 0 else "?"
            return (
                f"{self.what}: {self.done:g}/{self.total:g} ({100 * self.done / self.total:.0f}%) "
                f"{rate:.2f} {self.unit}/s, ETA {eta}"
            )
        return f"{self.what}: {self.done:g} {self.unit}, {rate:.2f} {self.unit}/s"

    def finish(self) -> None:
        log.info("%s (done in %.1fs)", self.line(), time.monotonic() - self.started)
