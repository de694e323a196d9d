"""pinsite's benchmarks: ``make bench`` (see bench/__main__.py). Never run by the test suite."""
