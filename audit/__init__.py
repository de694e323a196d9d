"""pinsite's security checks with outside tools: ``make audit`` (static analysis, dependency
advisories, scanners against a seeded local server) and the media header fuzzer in ``make test``."""
