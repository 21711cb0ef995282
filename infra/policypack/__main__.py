"""The CrossGuard pack. Only builds the PolicyPack: its constructor starts the analyzer and blocks, so nothing
imports this module; the rules live in (and are tested from) ``infra.policypack.rules`` and ``adapters``.

    pulumi preview --policy-pack infra/policypack
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policypack.adapters import policies

PolicyPack(name="fleetward-estate", enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
