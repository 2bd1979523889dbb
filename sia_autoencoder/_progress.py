"""Training progress: a live bar on a terminal or in a notebook, plain lines elsewhere."""
import sys
import time


def _interactive(stream):
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """verbose 0: silent; 1: a bar that redraws (on a terminal or in a notebook), or one line every
    ``every`` epochs when the output is a file or a pipe; 2: one line per epoch."""

    def __init__(self, total, verbose=1, stream=None, every=None, width=24):
        self.total, self.verbose, self.width = total, int(verbose), width
        self.stream = stream if stream is not None else sys.stdout
        self.live = self.verbose == 1 and _interactive(self.stream)
        self.every = every or max(1, total // 20)
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.epoch = 0
        self.logs = {}
        self.printed = 0     # the last epoch written, in line mode

    @property
    def active(self):
        return self.verbose > 0

    def update(self, epoch, logs, force=False):
        """Report that ``epoch`` (1-based) of ``total`` ended with ``logs``."""
        if not self.active:
            return
        self.epoch, self.logs = epoch, logs
        now = time.perf_counter()
        if self.live:
            if force or epoch == self.total or now - self.last_draw > 0.1:
                self.last_draw = now
                self._redraw(self._line(epoch, logs, now, bar=True))
        elif self.verbose >= 2 or epoch % self.every == 0 or epoch == self.total or force:
            self.stream.write(self._line(epoch, logs, now, bar=False) + "\n")
            self.stream.flush()
            self.printed = epoch

    def close(self):
        """End the bar's line; in line mode, write the last epoch if it was not written (training
        that stopped early, or was interrupted)."""
        if not self.active:
            return
        if self.live:
            if self.epoch:
                self._redraw(self._line(self.epoch, self.logs, time.perf_counter(), bar=True, final=True))
            self.stream.write("\n")
            self.stream.flush()
        elif self.epoch and self.printed != self.epoch:
            self.stream.write(self._line(self.epoch, self.logs, time.perf_counter(), bar=False,
                                         final=True) + "\n")
            self.stream.flush()
            self.printed = self.epoch

    def _redraw(self, line):
        pad = " " * max(0, getattr(self, "_width_drawn", 0) - len(line))
        self._width_drawn = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()

    def _line(self, epoch, logs, now, bar, final=False):
        elapsed = now - self.start
        left = elapsed / epoch * (self.total - epoch) if epoch else 0.0
        stats = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
        digits = len(str(self.total))
        head = f"Epoch {epoch:>{digits}}/{self.total}"
        if bar:
            filled = int(self.width * epoch / max(self.total, 1))
            head += " [" + "=" * filled + "." * (self.width - filled) + "]"
        if final:
            end = "done" if epoch == self.total else "stopped early"
            return f"{head} - {stats} - {_fmt_time(elapsed)}, {end}"
        return f"{head} - {stats} - {elapsed:.1f}s elapsed, {_fmt_time(left)} left"


def _fmt_time(seconds):
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes}m{s:02d}s"
