"""A second process for the lock tests: ``python lock_holder.py LOCK HOLD_S [WAIT_S]``.

Prints ``won`` (then holds the lock HOLD_S seconds, prints ``released AT``) or ``lost HOLDER_PID``.
"""
import sys
import time

from mmfeat.jobs.lock import LockHeldError, acquire

if __name__ == "__main__":
    path, hold_s = sys.argv[1], float(sys.argv[2])
    wait_s = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    try:
        lock = acquire(path, run_id="holder", wait_s=wait_s, poll_s=0.05)
    except LockHeldError as exc:
        print(f"lost {exc.holder.get('pid')}", flush=True)
        sys.exit(4)
    print("won", flush=True)
    time.sleep(hold_s)
    lock.release()
    print(f"released {time.time()}", flush=True)
