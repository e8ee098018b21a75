"""A local S3-compatible server (moto's) on a free port, for the S3 backup repository tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ACCESS_KEY = "AKIADESPACHOTEST0001"
SECRET_KEY = "despacho-test-secret-key-do-not-log"


@dataclass(frozen=True)
class LocalS3:
    endpoint: str  # http://127.0.0.1:PORT

    def repository(self, bucket: str, prefix: str = "despacho") -> str:
        return f"s3:{self.endpoint}/{bucket}/{prefix}"

    def create_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                              aws_secret_access_key=SECRET_KEY, region_name="us-east-1")
        client.create_bucket(Bucket=name)

    def objects(self, bucket: str) -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                              aws_secret_access_key=SECRET_KEY, region_name="us-east-1")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@contextmanager
def local_s3() -> Iterator[LocalS3]:
    """moto's threaded server on 127.0.0.1 (port chosen by the OS); stopped afterwards."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield LocalS3(f"http://{host}:{port}")
    finally:
        server.stop()
