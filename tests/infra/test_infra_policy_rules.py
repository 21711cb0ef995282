"""Each policy rule passes good resources and catches the violation it exists for, naming the URN."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from infra_support import run_with, small_raw
from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs

from infra.components import network as network_component
from infra.components import vpn as vpn_component
from infra.offline import OfflineRun, RecordedResource
from infra.plan import evaluate, unwrap
from infra.policypack import rules
from infra.policypack.adapters import resource_validator
from infra.sizing import SKU_GENERATIONS, generation_for


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


# --- every regression probed in issue 18, injected into the mocked program's resources ---------------


def mutated(run: OfflineRun, name: str, change: Callable[[dict[str, Any]], None]) -> list[RecordedResource]:
    """The run's resources with ``change`` applied to the (unwrapped) inputs of the resource named ``name``."""
    found = False
    resources = []
    for r in run.resources:
        if r.name == name:
            inputs = copy.deepcopy(unwrap(r.inputs))
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs)
            found = True
        resources.append(r)
    assert found, f"no resource named {name}"
    return resources


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = inputs
        for part in parents:
            target = target.setdefault(part, {})
        if value is DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value

    return change


DELETE = object()


def _rdp(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        assert old in inputs["customRdpProperty"]
        inputs["customRdpProperty"] = inputs["customRdpProperty"].replace(old, new)

    return change


REGRESSIONS = [
    pytest.param(
        "vault-kv",
        _set("properties.publicNetworkAccess", "Enabled"),
        "key-vault-private",
        id="public-key-vault",
    ),
    pytest.param(
        "collector-psql",
        _set("network.publicNetworkAccess", "Enabled"),
        "postgres-private-entra",
        id="public-postgres",
    ),
    pytest.param(
        "collector-psql",
        _set("authConfig.passwordAuth", "Enabled"),
        "postgres-private-entra",
        id="postgres-passwords",
    ),
    pytest.param(
        "collector-env",
        _set("vnetConfiguration.internal", False),
        "container-apps-private",
        id="public-environment",
    ),
    pytest.param(
        "collector-env",
        _set("vnetConfiguration.internal", False),
        rules.EXPOSURE_RULE,
        id="external-ingress-reaches-the-internet",
    ),
    pytest.param(
        "collector-app",
        _set("configuration.ingress.allowInsecure", True),
        "container-apps-private",
        id="plain-http",
    ),
    pytest.param(
        "profiles-sa", _set("allowSharedKeyAccess", True), "storage-no-shared-key", id="shared-key-storage"
    ),
    pytest.param(
        "profiles-sa", _set("allowSharedKeyAccess", DELETE), "storage-no-shared-key", id="shared-key-default"
    ),
    pytest.param(
        "session-hosts-vm-001",
        _set("securityProfile.uefiSettings.secureBootEnabled", False),
        "session-host-hardening",
        id="secure-boot-off",
    ),
    pytest.param(
        "session-hosts-vm-001",
        _set("securityProfile.uefiSettings.vTpmEnabled", False),
        "session-host-hardening",
        id="vtpm-off",
    ),
    pytest.param(
        "desktop-hp",
        _rdp("drivestoredirect:s:;", "drivestoredirect:s:*;"),
        "rdp-no-data-redirection",
        id="drives-on",
    ),
    pytest.param(
        "desktop-hp",
        _rdp("redirectclipboard:i:0", "redirectclipboard:i:1"),
        "rdp-no-data-redirection",
        id="clipboard-on",
    ),
    pytest.param(
        "desktop-hp",
        _rdp("usbdevicestoredirect:s:;", "usbdevicestoredirect:s:*;"),
        "rdp-no-data-redirection",
        id="usb-on",
    ),
    pytest.param(
        "network-hosts", _set("networkSecurityGroup", DELETE), "subnet-has-nsg", id="subnet-without-nsg"
    ),
    pytest.param(
        "vpn-vgw",
        _set("sku", {"name": "VpnGw1AZ", "tier": "VpnGw1AZ"}),
        "p2s-entra-or-certificate",
        id="vpngw1az-gen2",
    ),
    pytest.param(
        "vpn-vgw",
        lambda inputs: inputs.update(
            sku={"name": "VpnGw4AZ", "tier": "VpnGw4AZ"}, vpnGatewayGeneration="Generation1"
        ),
        "p2s-entra-or-certificate",
        id="vpngw4az-gen1",
    ),
]


@pytest.mark.parametrize(("name", "change", "rule"), REGRESSIONS)
def test_the_pack_catches_each_regression_over_every_resource(
    small_run: OfflineRun, name: str, change: Callable[[dict[str, Any]], None], rule: str
) -> None:
    assert evaluate(small_run.resources) == []
    verdicts = {(v.rule, v.urn.rsplit("::", 1)[-1]) for v in evaluate(mutated(small_run, name, change))}
    flagged = "collector-app" if rule == rules.EXPOSURE_RULE else name  # the app, not its environment
    assert (rule, flagged) in verdicts, verdicts


@pytest.mark.parametrize("sku", sorted(SKU_GENERATIONS))
def test_every_sku_passes_only_in_the_generations_that_offer_it(sku: str) -> None:
    for generation in ("Generation1", "Generation2"):
        gateway = {"sku": {"name": sku, "tier": sku}, "vpnGatewayGeneration": generation}
        verdicts = rules.p2s_entra_or_certificate(rules.GATEWAY, gateway)
        assert (verdicts == []) == (generation in SKU_GENERATIONS[sku]), (sku, generation, verdicts)
    assert generation_for(sku) in SKU_GENERATIONS[sku]


def test_external_ingress_needs_an_internal_environment_in_the_stack() -> None:
    app = (rules.CONTAINER_APP, "urn:app", {"configuration": {"ingress": {"external": True}}}, {})
    assert rules.external_ingress_outside_vnet([app]) == [
        ("urn:app", "external ingress on an environment that is not internal reaches the internet")
    ]
    internal_env = (rules.CONTAINER_ENVIRONMENT, "urn:env", {"vnetConfiguration": {"internal": True}}, {})
    linked = (app[0], app[1], app[2], {"managedEnvironmentId": ["urn:env"]})
    assert rules.external_ingress_outside_vnet([internal_env, linked]) == []
    internal_only = (app[0], app[1], {"configuration": {"ingress": {"external": False}}}, {})
    assert rules.external_ingress_outside_vnet([internal_only]) == []


def test_stack_policies_report_through_the_policy_api(small_run: OfflineRun) -> None:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from infra.policypack.adapters import policies, validate_exposure

    names = {p.name for p in policies()}
    assert {r.name for r in rules.RESOURCE_RULES} | {rules.DIAGNOSTICS_RULE, rules.EXPOSURE_RULE} == names
    options = PolicyResourceOptions(False, [], False, [], None, [])
    app = unwrap(small_run.of_type(rules.CONTAINER_APP)[0].inputs)
    resource = PolicyResource(rules.CONTAINER_APP, app, "urn:app", "app", options, None, None, [], {})
    reported: list[tuple[str, str | None]] = []
    validate_exposure(StackValidationArgs([resource]), lambda m, urn=None: reported.append((m, urn)))
    assert [urn for _, urn in reported] == ["urn:app"]


def test_every_rule_runs_over_every_mocked_resource_without_error(small_run: OfflineRun) -> None:
    for resource in small_run.resources:
        for rule in rules.RESOURCE_RULES:
            assert isinstance(rule.check(resource.type, unwrap(resource.inputs)), list), (
                rule.name,
                resource.urn,
            )
