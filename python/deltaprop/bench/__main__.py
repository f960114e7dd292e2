"""`python -m deltaprop.bench NAME [options]`: one benchmark, in this process when it can."""
import sys

from . import BENCHMARKS, run_here

if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
    lines = "\n".join(f"  {name:8s} {b.summary}" for name, b in BENCHMARKS.items())
    print(f"usage: python -m deltaprop.bench NAME [options]  (NAME --help for its options)\n{lines}",
          file=sys.stderr)
    sys.exit(2)
sys.exit(run_here(sys.argv[1], sys.argv[2:]))
