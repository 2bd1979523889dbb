"""Run a command on a pseudo-terminal, as a user's terminal would run it (tests of the progress bar)."""
import os
import subprocess


def run_in_pty(cmd, env, columns=None, timeout=120):
    """(exit status, everything the command wrote) for ``cmd`` run with its stdout and stderr on
    a pty, ``columns`` wide when given."""
    import pty
    master, slave = pty.openpty()
    if columns is not None:
        import fcntl
        import struct
        import termios
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(cmd, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:   # the command ended: EIO on Linux
            break
        if not data:
            break
        chunks.append(data)
    status = proc.wait(timeout=timeout)
    os.close(master)
    return status, b"".join(chunks).decode()
