"""Data-parallel throughput: [784, 512, 512, 10], global batch 256, plain SGD, float32.

    OMP_NUM_THREADS=2 python bench/mpi_scaling.py plain 2               # 1 process x 2 threads
    OMP_NUM_THREADS=1 mpiexec -n 2 python -m mpi4py bench/mpi_scaling.py det 1    # 2 ranks x 1 thread
    OMP_NUM_THREADS=1 mpiexec -n 2 python -m mpi4py bench/mpi_scaling.py fast 1

Prints one JSON line (rank 0): samples/s, the best of `repeats` timed epochs (an optional third
argument, default 3; more on a busy machine) after a warm-up epoch, and the time of one step's
gradient computation on one rank (the cost model's compute).
"""
import json
import sys
import time

import numpy as np

import deltaprop as dp

SIZES, BATCH, BATCHES = [784, 512, 512, 10], 256, 40


def main(mode: str, threads: int, repeats: int = 3) -> None:
    dp.set_num_threads(threads)
    n = BATCH * BATCHES
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], n)
    net = dp.MLP(SIZES, seed=0)
    options = dict(batch_size=BATCH, lr=0.01, optimizer="sgd")
    comm, rows, rank, size = None, slice(0, n), 0, 1
    if mode != "plain":
        from mpi4py import MPI
        from deltaprop.distributed import shard
        comm = MPI.COMM_WORLD
        rows, rank, size = shard(n, comm), comm.Get_rank(), comm.Get_size()
        options.update(comm=comm, deterministic=mode == "det")
    Xr, yr = X[rows], y[rows]
    net.fit(Xr, yr, epochs=1, **options)
    best = float("inf")
    for _ in range(repeats):
        if comm is not None:
            comm.Barrier()
        start = time.perf_counter()
        net.fit(Xr, yr, epochs=1, warm_start=True, **options)
        best = min(best, time.perf_counter() - start)
    local = BATCH // size
    start = time.perf_counter()
    for i in range(10):
        net.network.loss_and_grad(Xr[:local], yr[:local], None)
    compute_ms = (time.perf_counter() - start) / 10 * 1e3
    if rank == 0:
        print(json.dumps({"mode": mode, "ranks": size, "threads": threads, "samples_per_sec": round(n / best),
                          "step_ms": round(best / BATCHES * 1e3, 2),
                          f"gradient_ms_{local}_rows": round(compute_ms, 2)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *(int(a) for a in sys.argv[3:4]))
