"""The media tests' fixtures the tiering tests use too (the S3 server, Debian's exiftool)."""

from media.tests.conftest import debian_test_tools, exiftool, s3  # noqa: F401 - fixtures
