"""Run the media header fuzzer for a bounded time: ``python -m audit.fuzz --seconds 60``.

libFuzzer (through atheris) starts from the corpus kept in ``audit/fuzz/corpus`` (small real
headers of every accepted format; ``make_corpus.py`` made them) and writes the inputs it finds
interesting to ``var/fuzz/corpus``, so later runs start further on. An input that crashes a
parser is saved as ``var/fuzz/crash-<sha1>`` and the run exits non-zero; replay it with
``python -m audit.fuzz var/fuzz/crash-...``, and once fixed keep it in ``audit/fuzz/regressions``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "corpus"
REGRESSIONS = HERE / "regressions"  # inputs that once crashed a parser, replayed on every run
WORK = HERE.parent.parent / "var" / "fuzz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.fuzz", description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz (default 60)")
    parser.add_argument("--runs", type=int, default=-1, help="stop after this many inputs")
    parser.add_argument("replay", nargs="*", help="files to run once instead of fuzzing")
    args = parser.parse_args(argv)

    import atheris

    from audit.fuzz.fuzz_sniff import check_one

    if args.replay:
        for name in args.replay:
            check_one(Path(name).read_bytes())
            print(f"{name}: no crash")
        return 0

    corpus = WORK / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    libfuzzer_args = [
        "audit.fuzz",
        f"-max_total_time={args.seconds}",
        f"-runs={args.runs}",
        "-timeout=20",  # per input, a hang caught by libFuzzer itself (check_one allows 5 s)
        "-rss_limit_mb=2048",
        "-max_len=65536",
        f"-artifact_prefix={WORK}/",
        "-print_final_stats=1",
        str(corpus),  # new inputs go to the first folder, never into the repository
        str(SEEDS),
        str(REGRESSIONS),
    ]
    atheris.Setup(libfuzzer_args, check_one)
    atheris.Fuzz()  # exits the process: 0 when time is up, non-zero on a crash
    return 0


if __name__ == "__main__":
    sys.exit(main())
