"""The recipe of docs/scale.md at scale: a partitioned Parquet table planned on a local cluster.

``python benchmarks/dask_plan.py [ROWS] [PARTITIONS] [WORKERS]`` writes the largest sheet's
rows (benchmarks/_common.py) as Parquet files, plans them with the recipe of docs/scale.md on
a local Dask cluster, then plans the same rows on one machine in this process, checks that
every row's fate is the same, and prints both times and each worker's peak memory. Not a
``bench_*`` module: it is the measurement behind docs/scale.md, run by hand.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EXCEL_ROWS, LARGEST_COLUMNS, peak_mib, people

import campaignkit as ck
from campaignkit.ledger import History

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
MESSAGE = "Hi {{ first_name }}, your appointment at {{ clinic }} is on {{ appt_date }}."
CHANNEL = ck.Sociocs("kid:secret", "twlo_16175550000", "twlo")
GUARD = ck.Guardrails()


def normalised(part: pd.DataFrame) -> pd.DataFrame:
    to = ck.load_recipients(part, default_region="GB", duplicates="keep")["to"]
    return part.assign(to=to.astype("str"))


def planned(part: pd.DataFrame, history: History) -> pd.DataFrame:
    rows = part.drop(columns="to").sort_index()
    rendered = ck.render(ck.load_recipients(rows, default_region="GB"), MESSAGE)
    # rate=1000: the whole queue leaves before any window closes, so departures (which a
    # partition counts on its own) decide nothing and the fates can be compared
    decisions = ck.decide(rendered, CHANNEL, campaign="winter", history=history,
                          guardrails=GUARD, key="patient_id", now=NOW, rate=1000)
    return decisions.table[["fate", "segments"]].astype({"fate": "str"})


def worker_peak() -> float:
    """VmHWM of a worker process (defined here so the workers need no benchmarks path)."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) / 1024 for line in status
                    if line.startswith("VmHWM:"))


def main() -> None:
    import dask.dataframe as dd
    import distributed

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else EXCEL_ROWS
    parts = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    sheet = people(rows)[list(LARGEST_COLUMNS)]
    sheet["phone"] = ["" if v is None else str(v) for v in sheet["phone"].tolist()]
    sheet["patient_id"] = sheet["patient_id"].astype("str")
    sheet["appt_date"] = sheet["appt_date"].dt.strftime("%Y-%m-%d %H:%M")
    sheet.index = pd.RangeIndex(2, 2 + rows, name="row")
    meta = pd.DataFrame({"fate": pd.Series(dtype="str"), "segments": pd.Series(dtype="int64")},
                        index=pd.Index([], dtype="int64", name="row"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, part in enumerate(np.array_split(np.arange(rows), parts)):
            sheet.iloc[part].reset_index().to_parquet(folder / f"part-{i:03d}.parquet",
                                                      index=False)
        history = History()
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            started = time.perf_counter()
            frame = dd.read_parquet(folder, index="row")
            together = frame.map_partitions(normalised).shuffle(on="to", npartitions=parts)
            spread = together.map_partitions(planned, history, meta=meta).compute()
            spread_s = time.perf_counter() - started
            worker_peaks = client.run(worker_peak)
    started = time.perf_counter()
    one = planned(normalised(sheet), history)
    one_s = time.perf_counter() - started
    same = spread.sort_index()["fate"].tolist() == one["fate"].tolist()
    print(f"{rows:,} rows in {parts} Parquet files, {workers} worker processes")
    print(f"dask: {spread_s:.1f} s; worker peaks "
          f"{', '.join(f'{v:,.0f}' for v in worker_peaks.values())} MiB")
    print(f"one machine: {one_s:.1f} s; peak {peak_mib():,.0f} MiB (this process, with the "
          "table)")
    print(f"every fate equal: {same}; {one['fate'].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
