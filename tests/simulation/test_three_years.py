"""Three years of one MSP, day by day (tests/simulation/msp_life.py): every rule a
state can break is checked after every step against the test's own model.

Replay a failure with the seed and day it prints:
`MSPBOT_SIM_SEED=7 MSPBOT_SIM_DAYS=412 pytest tests/simulation -k replay`."""

from __future__ import annotations

import os

import pytest

from storage.engine import Database
from tests.simulation.msp_life import (
    ACTION_WEIGHTS,
    NEEDS,
    NOTHING_TO_ACT_ON,
    PIECES,
    Simulation,
)
from tests.support import FakeClock

DEFAULT_SEED = 20270101
THREE_YEARS = 3 * 365


def _every_kind_done(simulation: Simulation) -> None:
    enabled = {kind for kind in ACTION_WEIGHTS if PIECES.get(NEEDS.get(kind, ""), True)}
    missing = sorted(kind for kind in enabled if simulation.counts[kind] == 0)
    assert not missing, f"never drawn: {missing}"
    # Drawn is not enough: each kind must have done its work at least once.
    worked = {
        key.split(":")[0]
        for key, n in simulation.outcomes.items()
        if n and key.split(":")[1] not in NOTHING_TO_ACT_ON
    }
    idle = sorted(enabled - worked)
    assert not idle, f"never found anything to act on: {idle}"


async def test_three_years_of_one_msp_keep_every_rule(db: Database, clock: FakeClock) -> None:
    """On SQLite in the default suite (the same seed runs the same on PostgreSQL:
    the resilience suite's run below)."""
    await _three_years(db, clock)


@pytest.mark.resilience
async def test_three_years_on_postgresql(db: Database, clock: FakeClock, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs in the default suite")
    await _three_years(db, clock)


async def _three_years(db: Database, clock: FakeClock) -> None:
    simulation = Simulation(
        db=db,
        clock=clock,
        seed=DEFAULT_SEED,
        days=THREE_YEARS,
        actions_per_day=1,
        notices_every=7,
        check_each_job=False,
    )
    await simulation.run()
    _every_kind_done(simulation)
    print(simulation.summary())  # the figures docs/RELIABILITY.md records (with -s)
    # The outcomes that prove the rules were met, not only tried.
    for outcome in (
        "approve:approved",
        "add_trial:refused_full",
        "delete_account:refused",
        "decrease_licences:asked",
        "cancel:asked",
    ):
        assert simulation.outcomes[outcome], f"{outcome} never happened: {simulation.outcomes}"


@pytest.mark.skipif("MSPBOT_SIM_SEED" not in os.environ, reason="set MSPBOT_SIM_SEED to replay")
async def test_replay(db: Database, clock: FakeClock, backend: str) -> None:
    """A run printed by a failure, replayed: its seed, up to its day."""
    simulation = Simulation(
        db=db,
        clock=clock,
        seed=int(os.environ["MSPBOT_SIM_SEED"]),
        days=int(os.environ.get("MSPBOT_SIM_DAYS", THREE_YEARS)),
        actions_per_day=int(os.environ.get("MSPBOT_SIM_ACTIONS", 2)),
    )
    await simulation.run()


# One seed on SQLite keeps the resilience suite within CI's time; more seeds with
# MSPBOT_SIM_SEEDS="1,2,3" (and PostgreSQL through the replay test's backend).
LONGER_SEEDS = [int(seed) for seed in os.environ.get("MSPBOT_SIM_SEEDS", "1").split(",")]


@pytest.mark.resilience
@pytest.mark.parametrize("seed", LONGER_SEEDS)
async def test_longer_runs_with_more_seeds_and_actions(
    db: Database, clock: FakeClock, seed: int
) -> None:
    simulation = Simulation(db=db, clock=clock, seed=seed, days=THREE_YEARS, actions_per_day=8)
    await simulation.run()
    _every_kind_done(simulation)
    print(simulation.summary())
