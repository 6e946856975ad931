"""Every benchmark, one after another, then every headline figure with its ratio in one summary.

    python bench/run.py                  # full mode (by hand; ~30 min on 2 cores)
    python bench/run.py --quick --check  # CI: quick mode, exit 1 when any benchmark fails

``make bench`` and ``make bench-check`` run this. Each benchmark keeps its own database (dropped
and made anew; see bench/common.py) and prints its detail as it goes; the summary at the end is
the ``figure | …`` lines they printed (bench/figures.py), which docs/operations.md quotes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import PREFIX  # noqa: E402

BENCHMARKS = ["timeline", "partitions", "ingest", "delivery", "sweep", "campaign", "dashboard"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets (CI)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a benchmark fails")
    parser.add_argument("only", nargs="*", help="run only these benchmarks")
    args = parser.parse_args(argv)
    flags = [flag for flag, on in (("--quick", args.quick), ("--check", args.check)) if on]
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    unknown = sorted(set(args.only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")

    results: list[tuple[str, int, float, list[str]]] = []
    for name in chosen:
        script = ROOT / "bench" / f"{name}.py"
        if not script.exists():
            continue
        print(f"\n== bench/{name}.py {' '.join(flags)}", flush=True)
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(script), *flags],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        figures = []
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith(PREFIX):
                figures.append(line[len(PREFIX) :].rstrip())
        code = process.wait()
        results.append((name, code, time.perf_counter() - began, figures))

    mode = "quick" if args.quick else "full"
    print(f"\n== summary ({mode} mode): every figure with its ratio")
    for name, code, seconds, figures in results:
        state = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name}: {state} in {seconds:.0f} s")
        for line in figures:
            print(f"  {line}")
        if not figures and code == 0:
            print("  (printed no figure: skipped?)")
    failed = [name for name, code, _, _ in results if code != 0]
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
