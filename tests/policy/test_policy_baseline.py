"""Baselines: which floor is in force when, and how it reaches the SQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetward.policy.baseline import (
    Baseline,
    Floor,
    Release,
    floor_in_force,
    floors_in_force,
    last_supported_day,
    render_query,
)
from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.sqltext import literal, quote_text, values_cte, with_cte

CATALOGUE = load_catalogue()
WINDOWS = CATALOGUE.baselines["windows"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_floor_takes_effect_exactly_fourteen_days_after_release() -> None:
    release = WINDOWS.release("26200")
    assert release is not None
    # June 2026 Patch Tuesday (9 Jun) is in force from 23 Jun 00:00 UTC.
    assert floor_in_force(release, at("2026-06-22T23:59:59+00:00")).floor == "26200.8457"  # type: ignore[union-attr]
    assert floor_in_force(release, at("2026-06-23T00:00:00+00:00")).floor == "26200.8655"  # type: ignore[union-attr]


def test_no_floor_before_the_first_one_is_old_enough() -> None:
    release = WINDOWS.release("28000")
    assert release is not None
    assert floor_in_force(release, at("2026-02-20T00:00:00+00:00")) is None


def test_support_is_per_edition() -> None:
    rows = {(r.release, r.edition): r for r in floors_in_force(WINDOWS, at("2026-11-15T09:00:00+00:00"))}
    assert rows[("26100", "home-pro")].in_support == 0
    assert rows[("26100", "enterprise")].in_support == 1
    assert rows[("22631", "enterprise")].in_support == 0


def test_windows_10_is_out_of_servicing_but_in_extended_support_with_an_esu_only_floor() -> None:
    (row,) = [r for r in floors_in_force(WINDOWS, at("2026-11-15T09:00:00+00:00")) if r.release == "19045"]
    assert (row.in_support, row.extended_support) == (0, 1)
    assert row.extended_floor == "19045.6809"  # first build published after 14 Oct 2025


def test_month_precision_dates_end_support_before_the_month() -> None:
    assert last_supported_day("2027-04") == date(2027, 3, 31)
    assert last_supported_day("2026-10-13") == date(2026, 10, 13)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        floors_in_force(WINDOWS, datetime(2026, 11, 15))


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_floor_in_force_is_never_younger_than_the_window(instant: datetime) -> None:
    for release in WINDOWS.releases:
        floor = floor_in_force(release, instant)
        if floor is not None:
            released = datetime(floor.released.year, floor.released.month, floor.released.day, tzinfo=UTC)
            assert released <= instant - timedelta(days=14)
            newer = [f for f in release.floors if f.released > floor.released]
            assert all(
                datetime(f.released.year, f.released.month, f.released.day, tzinfo=UTC)
                > instant - timedelta(days=14)
                for f in newer
            )


def test_policy_without_baseline_renders_unchanged() -> None:
    policy = CATALOGUE.policy("encryption-windows-bitlocker")
    assert render_query(policy, CATALOGUE, at("2026-11-15T00:00:00+00:00")) == policy.query


def test_rendered_query_merges_into_the_policys_own_with_clause() -> None:
    policy = CATALOGUE.policy("patch-windows-release-supported")
    assert policy.query.startswith("WITH device AS")
    sql = render_query(policy, CATALOGUE, at("2026-11-15T00:00:00+00:00"))
    assert sql.startswith("WITH baseline(release, edition, in_support")
    assert sql.count("WITH ") == 1
    assert "),\ndevice AS (" in sql


def test_with_cte_keeps_recursive_and_prefixes_plain_selects() -> None:
    assert with_cte("b(x) AS (VALUES (1))", "SELECT x FROM b") == "WITH b(x) AS (VALUES (1))\nSELECT x FROM b"
    merged = with_cte("b(x) AS (VALUES (1))", "with recursive r(n) AS (SELECT 1) SELECT n FROM r, b")
    assert merged.startswith("WITH RECURSIVE b(x) AS (VALUES (1)),\nr(n)")
    assert sqlite3.connect(":memory:").execute(merged).fetchall() == [(1,)]


@given(st.text(alphabet=st.characters(min_codepoint=32, exclude_categories=("Cs",)), max_size=60))
def test_quoted_text_comes_back_from_sqlite_unchanged(value: str) -> None:
    if "\x7f" in value:
        return
    assert sqlite3.connect(":memory:").execute(f"SELECT {quote_text(value)}").fetchone() == (value,)


@pytest.mark.parametrize("bad", ["a\nb", "x\x00", "tab\there", "del\x7f"])
def test_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        quote_text(bad)


@pytest.mark.parametrize("bad", [True, 1.5, b"x", ["x"]])
def test_only_ints_text_and_null_are_literals(bad: object) -> None:
    with pytest.raises(TypeError):
        literal(bad)  # type: ignore[arg-type]


def test_hostile_baseline_text_stays_a_value() -> None:
    hostile = Baseline(
        name="hostile",
        title="hostile",
        platform="linux",
        release_key="test",
        refreshed=date(2026, 1, 1),
        sources={"X": "x"},
        releases=(
            Release(
                release="1",
                name="it's'); DROP TABLE baseline; --",
                floors=(Floor(floor="1.2", released=date(2026, 1, 1), source="X", reference="'); --"),),
            ),
        ),
    )
    rows = floors_in_force(hostile, at("2026-06-01T00:00:00+00:00"))
    cte = values_cte("baseline", ("release", "floor"), [(r.release, r.floor) for r in rows])
    db = sqlite3.connect(":memory:")
    assert db.execute(f"WITH {cte} SELECT release, floor FROM baseline").fetchall() == [("1", "1.2")]


def test_empty_baseline_renders_an_empty_table() -> None:
    cte = values_cte("baseline", ("a", "b"), [])
    assert sqlite3.connect(":memory:").execute(f"WITH {cte} SELECT * FROM baseline").fetchall() == []
