"""The whole program under mocks with the example config: resources, security invariants, secrets, policies.

Failure messages name the URN of the offending resource.
"""

from __future__ import annotations

from collections import Counter

from infra_support import SMALL_HOSTS

from infra.offline import OfflineRun
from infra.plan import evaluate, is_secret
from infra.policypack import rules


def test_example_creates_the_expected_resources(example_run: OfflineRun) -> None:
    counts = Counter(r.type for r in example_run.resources)
    assert counts["azure-native:compute:VirtualMachine"] == 102
    assert counts["azure-native:network:VirtualNetworkGatewayConnection"] == 2
    assert counts["azure-native:network:PublicIPAddress"] == 2  # active-active
    for token in ("HostPool", "ApplicationGroup", "Workspace", "ScalingPlan"):
        assert counts[f"azure-native:desktopvirtualization:{token}"] == 1
    assert "azure-native:desktopvirtualization:getHostPoolRegistrationToken" in example_run.invokes


def test_example_passes_every_policy(example_run: OfflineRun) -> None:
    assert evaluate(example_run.resources) == []


def test_every_azure_resource_is_parented_to_a_component(small_run: OfflineRun) -> None:
    for r in small_run.resources:
        if r.custom and r.type != "azure-native:resources:ResourceGroup":
            assert "fleetward:infra:" in r.parent, f"{r.urn} is not parented to a component"


def test_only_the_gateway_has_public_ips(small_run: OfflineRun) -> None:
    gateway = small_run.of_type(rules.GATEWAY)[0]
    used = {urn for deps in gateway.property_dependencies.values() for urn in deps}
    for pip in small_run.of_type("azure-native:network:PublicIPAddress"):
        assert pip.urn in used, f"{pip.urn} is a public IP not used by the VPN gateway"
        assert pip.inputs["sku"]["name"] == "Standard", pip.urn
        assert pip.inputs["publicIPAllocationMethod"] == "Static", pip.urn
        assert pip.inputs["zones"] == ["1", "2", "3"], pip.urn
    for nic in small_run.of_type(rules.NIC):
        assert rules.no_public_ip_on_session_hosts(nic.type, nic.inputs) == [], nic.urn


def test_gateway_is_zone_redundant_with_entra_p2s_and_long_timeouts(small_run: OfflineRun) -> None:
    gateway = small_run.of_type(rules.GATEWAY)[0]
    client = gateway.inputs["vpnClientConfiguration"]
    assert gateway.inputs["sku"]["name"].endswith("AZ"), gateway.urn
    assert client["vpnClientProtocols"] == ["OpenVPN"], gateway.urn
    assert client["vpnAuthenticationTypes"] == ["AAD"], gateway.urn
    assert client["aadAudience"] == "c632b3df-fb67-4d84-bdcf-b95ad541b5c8", gateway.urn
    assert gateway.custom_timeouts[0] == "90m", gateway.urn


def test_site_to_site_uses_custom_ipsec_policy_and_secret_keys(small_run: OfflineRun) -> None:
    for connection in small_run.of_type(rules.CONNECTION):
        assert rules.s2s_custom_ipsec_policy(connection.type, connection.inputs) == [], connection.urn
        assert is_secret(connection.inputs["sharedKey"]), f"{connection.urn} shared key is not a secret"


def test_secrets_stay_secret(small_run: OfflineRun) -> None:
    for vm in small_run.of_type(rules.VM):
        assert is_secret(vm.inputs["osProfile"]), f"{vm.urn} admin password is not secret"
    agents = [
        r
        for r in small_run.of_type("azure-native:compute:VirtualMachineExtension")
        if r.inputs["type"] == "DSC"
    ]
    assert agents
    for agent in agents:
        assert is_secret(agent.inputs["protectedSettings"]), f"{agent.urn} registration token is not secret"
        assert "offline-plan" not in str(agent.inputs["settings"]), agent.urn
    vault_secret = small_run.of_type("azure-native:keyvault:Secret")[0]
    assert is_secret(vault_secret.inputs["properties"]), vault_secret.urn
    assert "registrationToken" in small_run.secret_outputs


def test_session_hosts_are_hardened_and_entra_joined(small_run: OfflineRun) -> None:
    for vm in small_run.of_type(rules.VM):
        assert rules.session_host_hardening(vm.type, vm.inputs) == [], vm.urn
        assert vm.inputs["storageProfile"]["imageReference"]["offer"] == "windows-11", vm.urn
    joins = [
        r
        for r in small_run.of_type("azure-native:compute:VirtualMachineExtension")
        if r.inputs["type"] == "AADLoginForWindows"
    ]
    assert len(joins) == SMALL_HOSTS


def test_desktop_pool_settings(small_run: OfflineRun) -> None:
    pool = small_run.of_type("azure-native:desktopvirtualization:HostPool")[0]
    assert (pool.inputs["hostPoolType"], pool.inputs["loadBalancerType"]) == ("Pooled", "BreadthFirst"), (
        pool.urn
    )
    rdp = pool.inputs["customRdpProperty"]
    for setting in (
        "redirectsmartcards:i:1",
        "camerastoredirect:s:*",
        "audiocapturemode:i:1",
        "drivestoredirect:s:;",
        "redirectclipboard:i:0",
    ):
        assert setting in rdp, f"{pool.urn} lacks {setting}"
    plan = small_run.of_type("azure-native:desktopvirtualization:ScalingPlan")[0]
    assert plan.inputs["timeZone"] == "GMT Standard Time", plan.urn
    roles = small_run.of_type("azure-native:authorization:RoleAssignment")
    assert any(
        r.inputs["roleDefinitionId"].endswith("1d18fff3-a72a-46b5-b4a9-0b38a3cd7e63")
        and r.inputs["principalType"] == "Group"
        for r in roles
    )


def test_nsgs_deny_by_default_and_gateway_subnet_has_none(small_run: OfflineRun) -> None:
    for nsg in small_run.of_type(rules.NSG):
        names = [rule["name"] for rule in nsg.inputs["securityRules"]]
        assert "deny-all-inbound" in names, f"{nsg.urn} has no deny-all inbound rule"
        assert rules.inbound_from_internet(nsg.type, nsg.inputs) == [], nsg.urn
    gateway_subnet = next(
        s
        for s in small_run.of_type("azure-native:network:Subnet")
        if s.inputs["subnetName"] == "GatewaySubnet"
    )
    assert "networkSecurityGroup" not in gateway_subnet.inputs, gateway_subnet.urn


def test_storage_and_data_services_are_private(small_run: OfflineRun) -> None:
    account = small_run.of_type(rules.STORAGE)[0]
    assert rules.storage_private_tls12(account.type, account.inputs) == [], account.urn
    assert account.inputs["kind"] == "FileStorage", account.urn
    assert account.inputs["sku"]["name"] == "Premium_ZRS", account.urn
    server = small_run.of_type("azure-native:dbforpostgresql:Server")[0]
    assert server.inputs["network"]["publicNetworkAccess"] == "Disabled", server.urn
    vault = small_run.of_type("azure-native:keyvault:Vault")[0]
    assert vault.inputs["properties"]["publicNetworkAccess"] == "Disabled", vault.urn
    environment = small_run.of_type(rules.CONTAINER_ENVIRONMENT)[0]
    assert environment.inputs["vnetConfiguration"]["internal"] is True, environment.urn
    assert environment.inputs["publicNetworkAccess"] == "Disabled", environment.urn
