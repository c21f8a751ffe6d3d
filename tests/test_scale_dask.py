"""Past one machine: load, render and decide per partition of a Dask DataFrame (docs/scale.md).

A partitioned Parquet table goes through a local Dask cluster (two worker processes) with
the recipe of docs/scale.md#the-recipe: the rows of one number are brought together, each
partition is loaded, rendered and decided with the ledger's snapshot and a per-row key,
and every row's fate and reason equal what one machine decides for the whole table.
Skipped when dask[distributed] is not installed (the test extras install it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import campaignkit as ck  # noqa: E402
from campaignkit.ledger import History  # noqa: E402

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
MESSAGE = "Hi {{ first_name }}, your appointment at {{ clinic }} is on {{ appt_date }}."
CAMPAIGN = "winter-reminders"
CHANNEL = ck.Sociocs("kid:secret", "twlo_16175550000", "twlo")
GUARD = ck.Guardrails(suppression=ck.Suppression.of(["+447400100007"]))


def table(n: int) -> pd.DataFrame:
    """A warehouse table: a row id, a patient id, names, phones written many ways, repeats."""
    rng = np.random.default_rng(17)
    people = rng.integers(0, int(n * 0.8), n)  # a fifth of the rows repeat a number
    forms = ["07400 {:06d}", "+44 7400 {:06d}", "447400{:06d}", "(07400) {:06d}"]
    phones = [forms[rng.integers(4)].format(100000 + p) for p in people.tolist()]
    phones[5] = "n/a"
    return pd.DataFrame(
        {"patient_id": [f"P{i:06d}" for i in range(n)],
         "first_name": rng.choice(["Ada", "Bo", "Zoë", "Łukasz"], n),
         "phone": phones, "clinic": rng.choice(["Riverside", "Northgate"], n),
         "appt_date": rng.choice(["Tue 8 Dec", "Wed 9 Dec"], n)},
        index=pd.RangeIndex(2, 2 + n, name="row"),
    )


# -- the recipe of docs/scale.md ----------------------------------------------------------


def normalised(part: pd.DataFrame) -> pd.DataFrame:
    """Pass 1: the E.164 number of each row, only to bring one number's rows together."""
    to = ck.load_recipients(part, default_region="GB", duplicates="keep")["to"]
    return part.assign(to=to.astype("str"))


def planned(part: pd.DataFrame, history: History) -> pd.DataFrame:
    """Pass 2: what one machine decides for these rows (all the rows of their numbers)."""
    rows = part.drop(columns="to").sort_index()
    rendered = ck.render(ck.load_recipients(rows, default_region="GB"), MESSAGE)
    decisions = ck.decide(rendered, CHANNEL, campaign=CAMPAIGN, history=history,
                          guardrails=GUARD, key="patient_id", now=NOW)
    return decisions.table[["key", "fate", "reason", "segments"]].astype(
        {"fate": "str", "reason": "str"})


META = pd.DataFrame({"key": pd.Series(dtype="str"), "fate": pd.Series(dtype="str"),
                     "reason": pd.Series(dtype="str"), "segments": pd.Series(dtype="int64")},
                    index=pd.Index([], dtype="int64", name="row"))


def plan_on(client: object, path: Path, history: History) -> pd.DataFrame:
    frame = dd.read_parquet(path, index="row")
    together = frame.map_partitions(normalised).shuffle(on="to", npartitions=4)
    return together.map_partitions(planned, history, meta=META).compute().sort_index()


# -- the test ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


def test_a_partitioned_table_is_decided_as_one_machine_decides_it(cluster, tmp_path) -> None:
    """8 Parquet files of 1,500 rows on a local cluster: every row's fate and reason as one
    machine gives them, with the ledger's earlier sends seen per row key."""
    whole = table(12_000)
    folder = tmp_path / "recipients"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(whole)), 8)):
        whole.iloc[part].reset_index().to_parquet(folder / f"part-{i}.parquet", index=False)
    ledger = ck.Ledger(tmp_path / "ledger.db")
    box = ck.Sandbox(seed=1)
    earlier = ck.render(ck.load_recipients(whole.iloc[:40], default_region="GB"), MESSAGE)
    ck.send(earlier, CHANNEL, campaign=CAMPAIGN, live=True, ledger=ledger, key="patient_id",
            transport=box.transport(), pacing=ck.Pacing(1000.0), progress=False, now=NOW,
            guardrails=GUARD)
    history = ledger.history(CAMPAIGN)  # one snapshot, read once, sent to every worker

    spread = plan_on(cluster, folder, history)

    one = planned(normalised(whole), history)
    assert spread.index.tolist() == one.index.tolist()
    pd.testing.assert_frame_equal(spread, one, check_index_type=False)
    assert spread["fate"].value_counts().to_dict() == {
        "send": 6_739, "duplicate": 5_220, "already-sent": 39, "skipped": 1, "suppressed": 1}
