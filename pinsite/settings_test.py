"""Test overlay: the real settings plus what only makes tests faster, never what changes behaviour."""

from pinsite.settings import *  # noqa: F403

# Hashing passwords at full strength costs ~0.2 s per user created; tests create many.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
