"""The schemathesis run's hostile sibling: reports generated from the adversarial run's ingredients
(NUL, lone surrogates, mathtext and formula text, far dates with offsets, huge numbers, unknown and
malformed policy ids, oversized evidence), on SQLite and PostgreSQL. Every answer is a 2xx or a
clean 4xx, and the auditors' reports still build afterwards."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector.support import Fleet, bearer

HOSTILE_TEXT = [
    "\x00",
    "\ud800",
    "\udfff",
    "$\\frac{$",
    "$x^$",
    "=cmd|'/c calc'!A1",
    "<script>x</script>",
    "\u202e",
    "é",
    "🙂",
]
text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=30),
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE_TEXT), st.text(max_size=10)),
    st.just("x" * 5000),
)
policy_ids = st.one_of(
    st.sampled_from(["encryption-windows-bitlocker", "encryption-macos-filevault", "made-up-policy"]),
    text,
    st.just("a" * 101),
)
instants = st.sampled_from(
    [
        "2026-03-02T08:00:00Z",
        "2026-03-02T09:30:00+01:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "1969-12-31T23:00:00-02:00",
        "2026-03-02T08:00:00",
        "not a date",
    ]
)
numbers = st.sampled_from([None, 0, 5, -1, 2**63 - 1, 2**63, 2**64, 10**30])
evidence = st.lists(st.dictionaries(text, text, max_size=4), max_size=3)
results = st.lists(
    st.fixed_dictionaries(
        {
            "policy_id": policy_ids,
            "policy_version": st.one_of(st.just("v1"), text),
            "status": st.sampled_from(["pass", "fail", "error", "not_applicable", "bogus"]),
            "evidence": evidence,
            "error": st.one_of(st.none(), text),
        }
    ),
    max_size=3,
)


@st.composite
def reports(draw: st.DrawFn) -> dict[str, Any]:
    listed = draw(results)
    versions = {r["policy_id"]: r["policy_version"] for r in listed if isinstance(r["policy_id"], str)}
    versions.update(draw(st.dictionaries(policy_ids, text, max_size=2)))
    return {
        "report_id": str(uuid.uuid4()),
        "kind": "snapshot",
        "observed_at": draw(instants),
        "agent_version": draw(text),
        "bundle_version": draw(numbers),
        "policy_versions": versions,
        "results": listed,
        "events": draw(
            st.lists(
                st.fixed_dictionaries({"kind": st.just("bundle_refused"), "at": instants, "message": text}),
                max_size=2,
            )
        ),
    }


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=reports())
def test_hostile_reports_get_a_clean_answer_and_reports_still_build(
    fleet: Fleet, body: dict[str, Any]
) -> None:
    device = getattr(fleet, "_fuzz_device", None) or fleet.enroll(hw_uuid="FUZZ-UUID")
    fleet._fuzz_device = device  # type: ignore[attr-defined]  # one device for every example
    response = fleet.client.post(
        "/v1/reports",
        content=json.dumps(body, ensure_ascii=True).encode(),
        headers={**bearer(device.key), "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 413, 422), (response.status_code, response.text[:300])
    assert "code" in response.json() or response.status_code == 200
    for fmt in ("json", "html"):
        built = fleet.client.get(f"/v1/reports/{fmt}", headers=bearer(fleet.admin))
        assert built.status_code == 200, (fmt, built.text[:300])
