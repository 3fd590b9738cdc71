"""Starting a test server in a child process on 127.0.0.1 (the S3 and Azure servers of the object-store tests)."""
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, what: str, *, stderr=subprocess.DEVNULL, timeout: float = 60):
    """Start ``command`` and wait until it accepts connections on ``port``; RuntimeError naming ``what`` if not."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                stop(proc)
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
