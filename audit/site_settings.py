"""Settings of the scanners' throwaway site: pinsite's own, with a fast password hasher.

sqlmap tries the log-in form hundreds of times, and each try runs the password hasher (~0.3 s of
CPU with Django's default PBKDF2), which kept that one target from finishing in four minutes.
The hasher plays no part in what the scanners look for; everything else is the real settings.
"""

from pinsite.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
