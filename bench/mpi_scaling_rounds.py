"""Interleaved rounds of mpi_scaling.py, for a machine whose load changes while it runs:

    python bench/mpi_scaling_rounds.py [rounds=5] [repeats=3]

Each round runs 1 process x 2 threads (plain fit), then 2 ranks x 1 thread in the deterministic
and in the fast mode, one after the other, so that the three see about the same load; the ratio
of each mode to the plain fit is taken within a round. Prints each round, then the medians.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "mpi_scaling.py")
CONFIGS = [("plain", 1, 2), ("det", 2, 1), ("fast", 2, 1)]  # mode, ranks, threads per rank


def run(mode: str, ranks: int, threads: int, repeats: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [sys.executable, BENCH, mode, str(threads), str(repeats)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
        command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "mpi4py"] + command[1:]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(rounds: int = 5, repeats: int = 3) -> None:
    rates = {mode: [] for mode, _, _ in CONFIGS}
    ratios = {mode: [] for mode, _, _ in CONFIGS[1:]}
    for r in range(rounds):
        line = {}
        for mode, ranks, threads in CONFIGS:
            line[mode] = run(mode, ranks, threads, repeats)["samples_per_sec"]
            rates[mode].append(line[mode])
        for mode in ratios:
            ratios[mode].append(line[mode] / line["plain"])
        load = os.getloadavg()[0]
        print(json.dumps({"round": r + 1, "load": round(load, 1), **line,
                          **{f"{mode}_ratio": round(ratios[mode][-1], 2) for mode in ratios}}), flush=True)
    print(json.dumps({"median": True, **{mode: round(statistics.median(v)) for mode, v in rates.items()},
                      **{f"{mode}_ratio": round(statistics.median(v), 2) for mode, v in ratios.items()}}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
