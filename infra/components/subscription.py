"""Subscription prerequisites: the encryption-at-host feature and Defender for Cloud plans.

Encryption at host is a subscription feature: VMs that ask for it fail with ``EncryptionAtHostNotEnabled`` until
``Microsoft.Compute/EncryptionAtHost`` is registered (learn virtual-machines/disks-enable-host-based-encryption-
portal, "Prerequisites"); session hosts depend on the registration. Defender plans (pricings REST API plan names
VirtualMachines, KeyVaults, StorageAccounts, OpenSourceRelationalDatabases) are subscription-wide too, so
``monitoring.defenderPlans`` can leave them to a central team.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import features, security

from infra.components.base import PACKAGE, child

DEFENDER_PLANS: dict[str, str | None] = {
    "VirtualMachines": "P2",
    "KeyVaults": None,
    "StorageAccounts": "DefenderForStorageV2",
    "OpenSourceRelationalDatabases": None,
}


@dataclass(frozen=True)
class SubscriptionArgs:
    subscription_id: pulumi.Input[str]
    defender_plans: bool


class SubscriptionPrerequisites(pulumi.ComponentResource):
    encryption_at_host: features.SubscriptionFeatureRegistration

    def __init__(self, name: str, args: SubscriptionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:SubscriptionPrerequisites", name, None, opts)
        self.encryption_at_host = features.SubscriptionFeatureRegistration(
            f"{name}-encryption-at-host",
            provider_namespace="Microsoft.Compute",
            feature_name="EncryptionAtHost",
            properties={},
            opts=child(self),
        )
        if args.defender_plans:
            scope = pulumi.Output.concat("/subscriptions/", args.subscription_id)
            for plan, sub_plan in DEFENDER_PLANS.items():
                security.Pricing(
                    f"{name}-defender-{plan}",
                    pricing_name=plan,
                    pricing_tier="Standard",
                    sub_plan=sub_plan,
                    scope_id=scope,
                    opts=child(self),
                )
        self.register_outputs({})
