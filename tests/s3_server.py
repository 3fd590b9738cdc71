"""A local S3-compatible server (moto) on 127.0.0.1 for object-store tests, and clients of it."""
import re
import socket
import subprocess
import sys
import time
import uuid

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-value-7f3a",
               "AWS_DEFAULT_REGION": "us-east-1"}


class S3Server:
    """``moto.server`` in a child process; ``bucket()`` makes a fresh, empty bucket and returns its URL."""

    def __init__(self, request_log=None):
        """``request_log``: a path where the server writes one line per request (for counting them)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.request_log = request_log
        log = open(request_log, "ab") if request_log else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=log)
        if request_log:
            log.close()
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto server did not start (pip install 'moto[server]')")
                time.sleep(0.1)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict:
        """Environment variables under which s3fs (and so mmfeat) reaches this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object of a bucket (under ``prefix``): key -> bytes."""
        client, out = self.client(), {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                out[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return out

    def requests(self) -> dict[str, int]:
        """Requests served so far by HTTP method (needs ``request_log``): werkzeug logs one line each."""
        counts: dict[str, int] = {}
        with open(self.request_log, errors="replace") as f:
            for line in f:  # some lines are coloured: ANSI escapes sit between the quote and the method
                match = re.search(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|HEAD|POST|DELETE) /', line)
                if match:
                    counts[match.group(1)] = counts.get(match.group(1), 0) + 1
        return counts

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
