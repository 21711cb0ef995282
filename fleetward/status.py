"""The audit-status vocabulary: what an auditor sees for a (device, policy) pair at an instant.

Order of precedence at instant T, the one definition every derivation follows (the collector's
pure `collector.domain.state`, its SQL in `collector.store.fleet_state`, the simulator's truth):

1. no observation within the validity period before T         -> stale (a silent device is not compliant),
   but only on policies that apply to the device's platform: on the others it stays not_applicable
2. not_applicable / pass as observed                          -> not_applicable / pass
3. fail, error, in grace, with an active waiver at T          -> waived
4. fail for less than the policy's grace                       -> in_grace
5. otherwise the observed status                              -> fail / error
"""

from __future__ import annotations

from enum import StrEnum


# No docstring: it would become the description in the published report schema and API reference.
class AuditStatus(StrEnum):
    PASS = "pass"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"
    IN_GRACE = "in_grace"
    FAIL = "fail"
    ERROR = "error"
    STALE = "stale"

    @property
    def compliant(self) -> bool:
        return self in COMPLIANT


# What an auditor counts as compliant; the rest is a finding.
COMPLIANT = frozenset(
    {AuditStatus.PASS, AuditStatus.NOT_APPLICABLE, AuditStatus.WAIVED, AuditStatus.IN_GRACE}
)
# What an active waiver turns into `waived` (rule 3).
WAIVABLE = frozenset({AuditStatus.IN_GRACE, AuditStatus.FAIL, AuditStatus.ERROR})
# Observed statuses that pass through unchanged unless the device is stale (rule 2).
OBSERVED_COMPLIANT = (AuditStatus.PASS, AuditStatus.NOT_APPLICABLE)

# Worst first: a device's overall status is the worst of its pairs.
SEVERITY_ORDER = (
    AuditStatus.FAIL,
    AuditStatus.ERROR,
    AuditStatus.STALE,
    AuditStatus.IN_GRACE,
    AuditStatus.WAIVED,
    AuditStatus.PASS,
    AuditStatus.NOT_APPLICABLE,
)
