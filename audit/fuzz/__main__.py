"""Run the media header fuzzer for a bounded time: ``python -m audit.fuzz --seconds 60``.

libFuzzer (through atheris) starts from the corpus kept in ``audit/fuzz/corpus`` (small real
headers of every accepted format; ``make_corpus.py`` made them) and writes the inputs it finds
interesting to ``var/fuzz/corpus``, so later runs start further on. An input that crashes a
parser is saved as ``var/fuzz/crash-<sha1>`` and the run exits non-zero; replay it with
``python -m audit.fuzz var/fuzz/crash-...``, and once fixed keep it in ``audit/fuzz/regressions``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
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
    parser.add_argument("--verbose", action="store_true", help="show libFuzzer's progress lines")
    parser.add_argument("replay", nargs="*", help="files to run once instead of fuzzing")
    args = parser.parse_args(argv)
    if not args.replay and not args.verbose:
        return _quietly(args)

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


def _quietly(args: argparse.Namespace) -> int:
    """Fuzz in a child process with libFuzzer's progress lines (hundreds a minute) in a log;
    print its final numbers, or the log's end when it found something."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "last-run.log"
    argv = [sys.executable, "-m", "audit.fuzz", "--verbose", "--seconds", str(args.seconds)]
    argv += ["--runs", str(args.runs)]
    with log.open("w") as output:
        status = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, check=False)
    text = log.read_text(errors="replace")
    if status.returncode != 0:
        print(text[-6000:])
        print(f"audit.fuzz: a parser crashed or hung (exit {status.returncode}); log: {log}")
        return status.returncode or 1
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", text, flags=re.MULTILINE))
    print(
        f"audit.fuzz: {stats.get('number_of_executed_units', '?')} inputs in {args.seconds} s, "
        f"{stats.get('new_units_added', '?')} new, no crash (log: {log})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
