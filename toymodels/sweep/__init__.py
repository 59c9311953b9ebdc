"""Sweeps over parameter grids: vmapped chunks, an on-disk store keyed per point (extend or
refine a grid and only the new points are computed), and execution in this process, through
any `concurrent.futures.Executor` (a spawn process pool, Dask) or as SLURM jobs (submitit).

```python
from toymodels.sweep import sweep

def f(point, key):                       # point: {"lr": scalar, "seed": scalar}
    return {"loss": train(point["lr"], key)}   # key = fold_in(base key, seed)

res = sweep(f, {"lr": [0.01, 0.1, 1.0]}, seeds=5, key=jax.random.key(0), store="runs/")
res["loss"].shape                         # (3, 5); every lr with seed s starts from one draw
res.to_xarray()                           # needs the optional extra `sweep` (xarray)
```
"""

from ._grid import Grid as Grid
from ._progress import SimpleProgress as SimpleProgress
from ._store import Store as Store
from ._sweep import (
    SweepResult as SweepResult,
    SweepStats as SweepStats,
    evaluate_chunk as evaluate_chunk,
    load as load,
    process_pool as process_pool,
    sweep as sweep,
)
