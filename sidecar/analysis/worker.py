"""Analysis workers: processes that drain the queue at a lower priority than ingestion."""
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from prometheus_client import Histogram

from .. import storage
from ..db import connect, database_location
from ..errors import ImageStoreUnavailable
from . import camshots, queue
from .faces import ModelsUnavailable, load_face_recognition

log = logging.getLogger(__name__)

NICENESS = 10  # uploads (nice 0) get the cores first; analysis takes what is left
MODELS_MISSING = 3  # exit status of a worker that cannot load the face models: restarting will not help
RESTART_DELAY = 2.0  # seconds before a crashed worker is replaced, so a crash loop does not spin
STORE_DOWN_PAUSE = 5.0  # seconds a worker waits after the image store did not answer, before it asks again
ANALYSIS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)  # seconds per camshot
BURST = 8  # jobs of one attempt claimed at once: they share references and a score, while other workers still
           # get their share of a burst and a job's lease (analysis.lease_seconds) covers the ones before it


def worker_count(config):
    """analysis.workers, where 0 means one per core this process may run on."""
    return config["analysis.workers"] or len(os.sched_getaffinity(0))


def analysis_histogram():
    """Seconds per analysed camshot, counted by this worker process (in the folder metrics.py scrapes)."""
    return Histogram("proctorpy_analysis_seconds", "Time to analyse one camshot", buckets=ANALYSIS_BUCKETS,
                     registry=None)


def work(config, name=None, stop=None, until_idle=False):
    """Claim and analyse jobs until stop() is true, or with until_idle until none is left.

    Jobs are claimed up to BURST at a time, of one attempt (queue.claim_burst). Returns the number of camshots
    analysed. A job that raises is given back to the queue (or, at its last try, marked unreadable) and the
    worker goes on with the next one; the jobs of a burst not begun when the worker stops are given back.
    """
    load_face_recognition()  # fail before claiming anything, not once per job
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    stop = stop or threading.Event().is_set
    images = storage.image_store(config)
    db = connect(database_location(config))
    analysis_seconds = analysis_histogram()
    analysed = 0
    try:
        while not stop():
            for attempt_id in queue.fail_abandoned(db, config["analysis.max_tries"]):
                camshots.recompute_score(db, config, attempt_id)
            jobs = queue.claim_burst(db, name, config["analysis.lease_seconds"], BURST)
            if not jobs:
                if until_idle:
                    break
                _pause(stop, config["analysis.poll_seconds"])
                continue
            analysed += _analyse_burst(db, config, images, jobs, stop, analysis_seconds)
    finally:
        db.close()
    return analysed


def _analyse_burst(db, config, images, jobs, stop, analysis_seconds):
    """Analyse claimed jobs in turn, then score their attempts; the number analysed."""
    burst = camshots.Burst()
    analysed = 0
    try:
        for index, job in enumerate(jobs):
            if index and stop():
                _put_back(db, jobs[index:], "the worker stopped before it began this job")
                break
            started = time.monotonic()
            try:
                if camshots.process(db, config, images, job, burst) is not None:
                    analysed += 1
                    analysis_seconds.observe(time.monotonic() - started)
            except ImageStoreUnavailable as error:
                log.warning("job %s (camshot %s) put back: %s", job.id, job.camshot_id, error)
                _put_back(db, jobs[index:], str(error))
                _pause(stop, STORE_DOWN_PAUSE)
                break
            except Exception as error:
                log.exception("job %s (camshot %s) failed on try %s", job.id, job.camshot_id, job.tries)
                attempt_id = queue.release(db, job, f"{type(error).__name__}: {error}", config["analysis.max_tries"])
                if attempt_id is not None:
                    burst.to_score.add(attempt_id)
    finally:
        for attempt_id in burst.to_score:
            camshots.recompute_score(db, config, attempt_id)
    return analysed


def _put_back(db, jobs, reason):
    for job in jobs:
        queue.put_back(db, job, reason)


def _pause(stop, seconds):
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(min(0.1, seconds))


def run_worker(config):
    """One worker process: lower priority, stops after its current job on SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s %(message)s")
    os.nice(NICENESS)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    try:
        work(config, stop=stopping.is_set)
    except ModelsUnavailable as error:
        print(f"proctorpy worker: cannot analyse faces: {error}", file=sys.stderr, flush=True)
        return MODELS_MISSING
    return 0


def worker_command():
    """One worker process, with the configuration this process was given (by environment)."""
    return [sys.executable, "-m", "sidecar.cli", "worker", "--processes", "1"]


class WorkerPool:
    """Worker processes kept running: one that crashes is replaced, its job retried by lease."""

    def __init__(self, count):
        self.count = count
        self.processes = []
        self.given_up = False

    def start(self):
        self.processes = [subprocess.Popen(worker_command()) for _ in range(self.count)]

    def check(self):
        """Replace the workers that died; give up for good if they cannot load the models."""
        for index, process in enumerate(self.processes):
            status = process.poll()
            if status is None or self.given_up:
                continue
            if status == MODELS_MISSING:
                print("proctorpy: analysis workers cannot load the face models; camshots are stored but "
                      "not analysed until this is fixed (`proctorpy check` says more)", file=sys.stderr, flush=True)
                self.given_up = True
                continue
            print(f"proctorpy: analysis worker {process.pid} exited with status {status}; starting another",
                  file=sys.stderr, flush=True)
            time.sleep(RESTART_DELAY)
            self.processes[index] = subprocess.Popen(worker_command())

    def stop(self, timeout=30):
        """SIGTERM, then wait for each worker to finish its current job."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_pool(count):
    """Supervise count worker processes until SIGTERM or SIGINT; the exit status."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    pool = WorkerPool(count)
    pool.start()
    try:
        while not stopping.is_set() and not pool.given_up:
            pool.check()
            stopping.wait(0.5)
    finally:
        pool.stop()
    return 1 if pool.given_up else 0
