"""Each policy rule passes good resources and catches the violation it exists for, naming the URN."""

from __future__ import annotations

import copy

import pytest
from infra_support import run_with, small_raw
from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs

from infra.components import network as network_component
from infra.components import vpn as vpn_component
from infra.offline import OfflineRun
from infra.plan import evaluate, unwrap
from infra.policypack import rules
from infra.policypack.adapters import resource_validator


def props_of(run: OfflineRun, type_token: str) -> dict:
    return copy.deepcopy(unwrap(run.of_type(type_token)[0].inputs))


def test_internet_rdp_is_caught() -> None:
    rule = {
        "name": "rdp",
        "direction": "Inbound",
        "access": "Allow",
        "sourceAddressPrefix": "Internet",
        "destinationPortRange": "3389",
    }
    assert "RDP" in rules.inbound_from_internet(rules.NSG, {"securityRules": [rule]})[0]
    assert "SSH" in rules.inbound_from_internet(rules.SECURITY_RULE, rule | {"destinationPortRange": "*"})[0]


def test_public_ip_on_session_host_is_caught(small_run: OfflineRun) -> None:
    nic = props_of(small_run, rules.NIC)
    nic["ipConfigurations"][0]["publicIPAddress"] = {"id": "/pip"}
    assert rules.no_public_ip_on_session_hosts(rules.NIC, nic)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("vpnClientConfiguration", "vpnClientProtocols"), ["SSTP"]),
        (("vpnClientConfiguration", "vpnAuthenticationTypes"), ["Radius"]),
        (("sku", "name"), "Basic"),
    ],
)
def test_weak_p2s_is_caught(small_run: OfflineRun, path: tuple[str, str], value: object) -> None:
    gateway = props_of(small_run, rules.GATEWAY)
    assert rules.p2s_entra_or_certificate(rules.GATEWAY, gateway) == []
    gateway[path[0]][path[1]] = value
    assert rules.p2s_entra_or_certificate(rules.GATEWAY, gateway)


def test_connection_without_custom_policy_is_caught(small_run: OfflineRun) -> None:
    connection = props_of(small_run, rules.CONNECTION)
    del connection["ipsecPolicies"]
    assert "no custom ipsecPolicies" in rules.s2s_custom_ipsec_policy(rules.CONNECTION, connection)[0]


def test_public_or_old_tls_storage_is_caught(small_run: OfflineRun) -> None:
    account = props_of(small_run, rules.STORAGE) | {
        "publicNetworkAccess": "Enabled",
        "minimumTlsVersion": "TLS1_0",
    }
    assert len(rules.storage_private_tls12(rules.STORAGE, account)) == 2


def test_missing_tags_are_caught() -> None:
    assert rules.required_tags("azure-native:network:VirtualNetwork", {"tags": {"owner": "x"}})
    assert rules.required_tags("azure-native:network:Subnet", {}) == []


def test_missing_diagnostics_names_the_urn(small_run: OfflineRun) -> None:
    kept = [
        r
        for r in small_run.resources
        if not (r.type == rules.DIAGNOSTIC_SETTING and r.name == "vpn-vgw-diag")
    ]
    verdicts = evaluate(kept)
    assert [(v.rule, v.urn.rsplit("::", 1)[-1]) for v in verdicts] == [(rules.DIAGNOSTICS_RULE, "vpn-vgw")]


def test_adapter_reports_through_the_policy_api(small_run: OfflineRun) -> None:
    reported: list[tuple[str, str | None]] = []
    args = ResourceValidationArgs(
        rules.CONNECTION,
        {"connectionType": "IPsec"},
        "urn:test",
        "cn",
        PolicyResourceOptions(False, [], False, [], None, []),
        None,
    )
    resource_validator(rules.RESOURCE_RULES[4])(
        args, lambda message, urn=None: reported.append((message, urn))
    )
    assert reported
    assert reported[0][1] == "urn:test"


def test_program_with_weak_ipsec_policy_fails_the_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vpn_component, "IPSEC_POLICY", vpn_component.IPSEC_POLICY | {"dhGroup": "DHGroup2"})
    monkeypatch.setattr(
        network_component,
        "DENY_ALL_INBOUND",
        network_component.DENY_ALL_INBOUND
        | {"access": "Allow", "source_address_prefix": "Internet", "destination_port_range": "3389"},
    )
    verdicts = evaluate(run_with(small_raw()).resources)
    failed = {(v.rule, v.urn.rsplit("::", 1)[-1]) for v in verdicts}
    assert ("s2s-custom-ipsec-policy", "vpn-cn-riverside-surgery") in failed
    assert ("no-inbound-from-internet", "network-nsg-snet-hosts") in failed
