"""`make stack`'s Redis and S3 keep their data: stopped, or killed outright, and started again.

A durable stack (Ceph RGW with its objects on disk, Redis with its append-only file) in a
temporary root, driven as `python -m stack up|down` drives it. PostgreSQL is left out: it keeps
its data in any stack, and its restarts are tested in test_stack.py. ~25 s (RGW's first start
is ~7 s, each resume ~5 s).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from botocore.config import Config

from stack import Stack
from stack.processes import ProcessId, wait_until

pytestmark = pytest.mark.stack

SERVICES = ("redis", "s3")
BUCKET = "persisted"


@pytest.fixture
def root() -> Iterator[Path]:
    # Not pytest's tmp_path: the ceph user must be able to enter the folder (see test_stack.py).
    folder = Path(tempfile.mkdtemp(prefix="pinsite-persist-test-"))
    yield folder
    if (folder / "stack.json").exists():
        Stack.load(folder).stop()  # a failed test must not leave servers behind
    shutil.rmtree(folder, ignore_errors=True)


def _s3(st: Stack) -> Any:
    env = st.env()
    return boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_S3_REGION_NAME"],
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def _redis(st: Stack) -> redis.Redis:
    return redis.Redis.from_url(st.env()["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)


def _read_back(st: Stack) -> tuple[dict[str, list[bytes]], dict[bytes, bytes | None]]:
    """Every version's bytes (newest first) by key, and the Redis keys written."""
    client = _s3(st)
    versions: dict[str, list[bytes]] = {}
    listed = client.list_object_versions(Bucket=BUCKET)["Versions"]
    for entry in sorted(listed, key=lambda v: v["LastModified"], reverse=True):
        body = client.get_object(Bucket=BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])
        versions.setdefault(entry["Key"], []).append(body["Body"].read())
    with _redis(st) as r:
        keys = {key: r.get(key) for key in (b"session:1", b"queue-depth")}
    return versions, keys


def _kill_hard(st: Stack) -> list[ProcessId]:
    """SIGKILL every process of the S3 server (monitor, OSD, radosgw) and of Redis."""
    state = st._state
    procs = [ProcessId.from_json(data) for data in state["s3_rgw"].values()]
    procs.append(ProcessId.from_json(state["redis"]))
    alive = [proc for proc in procs if proc is not None and proc.alive()]
    assert len(alive) == 4, procs
    for proc in alive:
        os.kill(proc.pid, signal.SIGKILL)
    assert wait_until(lambda: not any(proc.alive() for proc in alive), 10)
    return alive


def test_s3_objects_versions_and_redis_keys_survive_kill_and_restart(root: Path) -> None:
    st = Stack(root, s3="rgw", durable=True)
    st.start(SERVICES)
    client = _s3(st)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=BUCKET, Key="originals/a.jpg", Body=b"first")
    client.put_object(Bucket=BUCKET, Key="originals/a.jpg", Body=b"second")
    client.put_object(Bucket=BUCKET, Key="renditions/a/grid-236.webp", Body=b"x" * 300_000)
    client.copy_object(
        Bucket=BUCKET,
        Key="renditions/a/grid-236.webp",
        CopySource={"Bucket": BUCKET, "Key": "renditions/a/grid-236.webp"},
        StorageClass="STANDARD_IA",
        MetadataDirective="COPY",
    )
    with _redis(st) as r:
        r.set("session:1", "signed-in")
        r.incr("queue-depth", 7)
    expected = (
        {
            "originals/a.jpg": [b"second", b"first"],
            "renditions/a/grid-236.webp": [b"x" * 300_000, b"x" * 300_000],
        },
        {b"session:1": b"signed-in", b"queue-depth": b"7"},
    )
    assert _read_back(st) == expected
    env = st.env()

    # Killed outright, as a crash or the OOM killer would; `up` again resumes the data.
    killed = _kill_hard(st)
    again = Stack.load(root)
    assert not again._alive("s3") and not again._alive("redis")
    again.start(SERVICES)
    assert again.env() == env  # same ports and keys: running apps reconnect by themselves
    assert _read_back(again) == expected
    head = _s3(again).head_object(Bucket=BUCKET, Key="renditions/a/grid-236.webp")
    assert head["StorageClass"] == "STANDARD_IA"
    new_pids = {data["pid"] for data in again._state["s3_rgw"].values()}
    assert new_pids.isdisjoint({proc.pid for proc in killed})

    # `make stack-stop && make stack`.
    Stack.load(root).stop()
    assert not Stack.load(root)._alive("s3")
    third = Stack.load(root)
    third.start(SERVICES)
    assert third.env() == env
    assert _read_back(third) == expected
    third.stop()
    assert (root / "s3" / "osd" / "ceph-0" / "block").exists()  # stopping keeps the data
