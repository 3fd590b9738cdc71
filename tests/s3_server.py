"""A local S3-compatible server (moto) on 127.0.0.1 for object-store tests, and clients of it."""
import re
import subprocess
import sys
import uuid

from tests.local_server import free_port, start, stop

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-value-7f3a",
               "AWS_DEFAULT_REGION": "us-east-1"}


class S3Server:
    """``moto.server`` in a child process; ``bucket()`` makes a fresh, empty bucket and returns its URL."""

    def __init__(self, request_log=None):
        """``request_log``: a path where the server writes one line per request (for counting them)."""
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.request_log = request_log
        log = open(request_log, "ab") if request_log else subprocess.DEVNULL
        try:
            self.proc = start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                              self.port, "moto server (pip install 'moto[server]')", stderr=log, timeout=30)
        finally:
            if request_log:
                log.close()

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

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def stop(self):
        stop(self.proc)
