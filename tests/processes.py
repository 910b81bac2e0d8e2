"""What the tests and benches do with the servers they start: stop a process group, wait for a condition."""
import os
import signal
import subprocess
import time


def stop_group(process, timeout=20):
    """SIGTERM a process and its children (started with start_new_session), SIGKILL them after timeout."""
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(check, timeout, what, interval=0.05):
    """Poll check() until it returns something true, and return that; fail naming what did not happen."""
    deadline = time.time() + timeout
    while not (result := check()):
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
    return result
