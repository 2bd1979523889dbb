"""Training progress: a live bar on a terminal (fitted to its width) or in a notebook (one
display, updated in place), plain lines elsewhere."""
import os
import sys
import time

MIN_BAR = 10   # the narrowest bar drawn before the bar is left out


def _notebook(stream):
    """True when ``stream`` is a Jupyter kernel's output: the bar is then one display, updated."""
    return "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel")


def _interactive(stream):
    if _notebook(stream):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _columns(stream, default=80):
    """The terminal's width (the COLUMNS variable first, as shutil does), or ``default``."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else default


class Progress:
    """verbose 0: silent; 1: a bar that redraws (on a terminal or in a notebook), or one line every
    ``every`` epochs when the output is a file or a pipe; 2: one line per epoch."""

    def __init__(self, total, verbose=1, stream=None, every=None, width=24):
        self.total, self.verbose, self.width = total, int(verbose), width
        self.stream = stream if stream is not None else sys.stdout
        self.live = self.verbose == 1 and _interactive(self.stream)
        self.display = None  # in a notebook: the IPython display handle that the bar updates
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
            if not _notebook(self.stream):
                self.stream.write("\n")
                self.stream.flush()
        elif self.epoch and self.printed != self.epoch:
            self.stream.write(self._line(self.epoch, self.logs, time.perf_counter(), bar=False,
                                         final=True) + "\n")
            self.stream.flush()
            self.printed = self.epoch

    def _redraw(self, line):
        if _notebook(self.stream):   # one output, updated in place (not one per redraw)
            from IPython.display import display
            data = {"text/plain": line}
            if self.display is None:
                self.display = display(data, raw=True, display_id=True)
            else:
                self.display.update(data, raw=True)
            return
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
        if final:
            end = "done" if epoch == self.total else "stopped early"
            tails = [f"{_fmt_time(elapsed)}, {end}"]
        else:
            tails = [f"{elapsed:.1f}s elapsed, {_fmt_time(left)} left", f"{_fmt_time(left)} left"]
        if not bar:
            return f"{head} - {stats} - {tails[0]}"
        # On a terminal the line must fit its width, or each redraw leaves a stale line: the bar
        # narrows, then the time says less, then the bar goes, then the line is cut.
        room = _columns(self.stream) - 1 if not _notebook(self.stream) else 10 ** 6
        for width in (self.width, MIN_BAR, 0):
            for tail in tails:
                filled = int(width * epoch / max(self.total, 1))
                drawn = f" [{'=' * filled}{'.' * (width - filled)}]" if width else ""
                line = f"{head}{drawn} - {stats} - {tail}"
                if len(line) <= room:
                    return line
        return line[:max(room - 1, 1)] + "…"


def _fmt_time(seconds):
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes}m{s:02d}s"
