"""osquery's answers are coerced to rows of strings in one place; other shapes are errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.osquery.values import rows_from_osquery
from fleetward.errors import QueryError


def test_strings_pass_through_and_empties_become_empty_strings() -> None:
    assert rows_from_osquery([{"a": "1", "b": None}], source="x") == [{"a": "1", "b": ""}]


def test_numbers_become_their_decimal_text() -> None:
    assert rows_from_osquery([{"i": 17179869184, "f": 1.0, "g": 0.25}], source="x") == [
        {"i": "17179869184", "f": "1", "g": "0.25"}
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"a": "1"}, "expected a list of rows"),
        (["row"], "expected a mapping"),
        ([{"a": ["nested"]}], "expected text"),
        ([{1: "a"}], "non-text column name"),
    ],
)
def test_unexpected_shapes_are_query_errors(raw: object, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        rows_from_osquery(raw, source="osqueryd")


@given(st.lists(st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none()))))
def test_any_text_or_integer_rows_coerce_to_text(rows: list[dict[str, object]]) -> None:
    coerced = rows_from_osquery(rows, source="x")
    assert len(coerced) == len(rows)
    assert all(isinstance(v, str) for row in coerced for v in row.values())
