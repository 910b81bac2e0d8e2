"""The S3 image store: each image an object in a bucket of an S3-compatible store, at prefix + key.

The bucket is shared by every web node and analysis worker, so none needs another's disk. An
object is whole once put_object returns (S3 has no half-written object), so there are no temp
files; what a crash can leave is an object whose row was never committed, which repair()
deletes once it is older than its grace period.
"""
import contextlib
import logging
import os
import secrets
import threading
import time

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import ImageStoreUnavailable
from ..redaction import redact_url

log = logging.getLogger(__name__)

DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
MISSING = ("NoSuchKey", "404", "NotFound")  # how stores say an object is not there


class S3Store:
    """Images as objects in bucket, under prefix, through boto3."""

    name = "s3"
    local = False

    def __init__(self, bucket, endpoint="", region="us-east-1", access_key="", secret_key="", prefix="",
                 timeout=10):
        self.bucket = bucket
        self.endpoint = endpoint or None
        self.region = region or None
        self.access_key = access_key or None
        self.secret_key = secret_key or None
        prefix = prefix.lstrip("/")
        self.prefix = prefix + "/" if prefix and not prefix.endswith("/") else prefix
        self.timeout = timeout
        self._client = None
        self._client_pid = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_config(cls, config):
        return cls(config["storage.s3.bucket"], config["storage.s3.endpoint"], config["storage.s3.region"],
                   config["storage.s3.access_key"], config["storage.s3.secret_key"], config["storage.s3.prefix"],
                   config["storage.s3.timeout"])

    def __repr__(self):
        return f"S3Store({self.bucket!r}, {redact_url(self.endpoint)!r}, prefix={self.prefix!r})"

    def describe(self):
        return f"s3 bucket {self.bucket} at {redact_url(self.endpoint) if self.endpoint else 'AWS ' + str(self.region)}" + \
            (f", prefix {self.prefix}" if self.prefix else "")

    @property
    def client(self):
        """This process's boto3 client.

        Made on first use in each process: gunicorn and the analysis pool fork after the app is
        built, and a client's connection pool must not be shared across a fork. A client is
        thread-safe, so the threads of one worker share it.
        """
        if self._client_pid != os.getpid():
            with self._client_lock:
                if self._client_pid != os.getpid():
                    session = boto3.session.Session()
                    self._client = session.client(
                        "s3", endpoint_url=self.endpoint, region_name=self.region,
                        aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                        config=botocore.config.Config(
                            connect_timeout=self.timeout, read_timeout=self.timeout,
                            retries={"max_attempts": 3, "mode": "standard"},
                            # Path-style addressing: self-hosted stores rarely have a DNS name per bucket.
                            s3={"addressing_style": "path"}, max_pool_connections=32,
                        ),
                    )
                    self._client_pid = os.getpid()
        return self._client

    @contextlib.contextmanager
    def answering(self, action, key=None):
        """Turn what boto3 raises into FileNotFoundError (no such object) or ImageStoreUnavailable."""
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if key is not None and code in MISSING:
                raise FileNotFoundError(f"{self.describe()}: no object {self.prefix}{key}") from None
            raise self.unavailable(action, error) from None
        except BotoCoreError as error:
            raise self.unavailable(action, error) from None

    def unavailable(self, action, error):
        return ImageStoreUnavailable(
            f"The image store ({self.describe()}) could not {action}: {error}. Nothing was lost; try again when "
            "the store answers (`proctorpy check` tests it).")

    def put(self, key, data):
        with self.answering("store an image"):
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType="image/png")

    def get(self, key):
        with self.answering("read an image", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return response["Body"].read()

    def open(self, key):
        with self.answering("read an image", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        return ObjectReader(self, response["Body"])

    def delete(self, key):
        with self.answering("delete an image"):
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def delete_many(self, keys):
        keys = list(keys)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": self.prefix + key} for key in keys[start:start + DELETE_BATCH]]
            with self.answering("delete images"):
                response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            failed = [e for e in response.get("Errors", []) if e.get("Code") not in MISSING]
            if failed:
                raise self.unavailable("delete images", f"{len(failed)} refused, the first {failed[0]}")

    def discard(self, key):
        try:
            self.delete(key)
        except ImageStoreUnavailable as error:
            # Its row was never committed, so it is an orphan: repair() deletes it past its grace period.
            log.warning("could not delete the uncommitted object %s%s: %s", self.prefix, key, error)

    def scan(self, tops):
        # A listing comes in the order of the keys' bytes: the order of their str.
        paginator = self.client.get_paginator("list_objects_v2")
        for top in sorted(tops):
            with self.answering("list images"):
                for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}{top}/"):
                    for item in page.get("Contents", []):
                        yield item["Key"][len(self.prefix):], item["LastModified"].timestamp()

    def exists(self, key):
        try:
            with self.answering("look for an image", key):
                self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except FileNotFoundError:
            return False
        return True

    def sweep_temporary(self, tops, before):
        return 0

    def tidy(self, folder):
        pass  # a bucket has no folders to leave empty

    def check_free_space(self, min_free_bytes):
        return None  # a bucket has no disk of this machine's to fill

    def probe(self):
        key = f".probe-{secrets.token_hex(4)}"
        data = f"proctorpy probe {time.time()}".encode()
        started = time.perf_counter()
        with self.answering("answer a probe (is the bucket there, and may this account write to it?)"):
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
            try:
                read = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
            finally:
                self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        if read != data:
            raise self.unavailable("answer a probe", "the probe object read back differs from what was written")
        return f"{self.describe()}: reachable, a probe object written, read and deleted in " \
               f"{(time.perf_counter() - started) * 1000:.0f} ms"


class ObjectReader:
    """An object's body read in chunks, its failures turned into ImageStoreUnavailable."""

    def __init__(self, store, body):
        self.store = store
        self.body = body

    def read(self, size=-1):
        with self.store.answering("read an image"):
            return self.body.read(None if size is None or size < 0 else size)

    def close(self):
        self.body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
