"""A hung S3 costs a call seconds, not minutes: the media storage's S3 client gives up after its
connect and read timeouts and a bounded number of attempts (settings ``S3_CONNECT_TIMEOUT``,
``S3_READ_TIMEOUT``, ``S3_MAX_ATTEMPTS``), and the caller gets a BotoCoreError, which the views
turn into "Storage is not answering right now"."""

from __future__ import annotations

import socket
import threading

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ReadTimeoutError
from django.conf import settings

from media.storage.backend import MediaStorage


def test_the_media_storage_client_has_short_timeouts_and_few_attempts(s3):
    config = s3.meta.config
    assert config.connect_timeout == settings.S3_CONNECT_TIMEOUT == 2
    assert config.read_timeout == settings.S3_READ_TIMEOUT == 5
    assert config.retries == {"total_max_attempts": settings.S3_MAX_ATTEMPTS, "mode": "standard"}


@pytest.fixture
def hung_s3():
    """An address that accepts connections and never answers, counting the connections."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    done.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_hung_s3_fails_the_call_after_the_read_timeout_and_the_configured_attempts(s3, hung_s3):
    url, accepted = hung_s3
    options = dict(settings.STORAGES["default"]["OPTIONS"])
    # The configured client, pointed at the hung server, with a shorter read timeout so the test
    # waits less than a second per attempt.
    options["endpoint_url"] = url
    options["client_config"] = options["client_config"].merge(Config(read_timeout=0.5))
    client = MediaStorage(**options).connection.meta.client
    with pytest.raises(ReadTimeoutError) as raised:
        client.head_object(Bucket=options["bucket_name"], Key="originals/any.jpg")
    assert isinstance(raised.value, BotoCoreError)  # what the views catch
    assert len(accepted) == settings.S3_MAX_ATTEMPTS  # bounded: botocore alone would try 5 times
