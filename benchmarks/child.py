"""Run a command as a child process and measure it: peak RSS of that child alone, and wall time."""
import os
import subprocess
import time


def peak_rss_mib(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (its peak RSS in MiB from ``wait4`` rusage, seconds). Exits with its stderr if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}\n{proc.stderr.read().decode()[-3000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0
