"""One test per finding of issue 18, each over the program run under mocks (failing before the fix).

Sources are named where a shape is checked: Azure/avdaccelerator and AVM for the DSC credential, learn
virtual-desktop/required-fqdn-endpoint for session host egress, the VPN gateway SKU tables for generations.
"""

from __future__ import annotations

import copy
import ipaddress
from datetime import timedelta
from typing import Any

import yaml
from infra_support import FAR_FUTURE, ROOT, SMALL_HOSTS, run_with, small_raw

from infra.components.host_configuration import decode_command
from infra.config import registration_token_expiry
from infra.offline import OfflineRun, RecordedResource
from infra.plan import evaluate, is_secret, unwrap
from infra.policypack import rules

EXTENSION = "azure-native:compute:VirtualMachineExtension"


def extensions(run: OfflineRun, extension_type: str) -> list[RecordedResource]:
    return [r for r in run.of_type(EXTENSION) if r.inputs["type"] == extension_type]


def named(run: OfflineRun, type_token: str, name: str) -> RecordedResource:
    return next(r for r in run.of_type(type_token) if r.name == name)


# --- session hosts register ------------------------------------------------------------------------


def test_dsc_passes_the_registration_token_as_a_credential(small_run: OfflineRun) -> None:
    """AddSessionHost takes [PSCredential]$RegistrationInfoTokenCredential (Azure/RDS-Templates Configuration.ps1;
    avdaccelerator registerSessionHostsOnHopstPool.bicep): a plain registrationInfoToken object never resolves."""
    agents = extensions(small_run, "DSC")
    assert len(agents) == SMALL_HOSTS
    for agent in agents:
        properties = unwrap(agent.inputs["settings"])["properties"]
        assert "registrationInfoToken" not in properties, agent.urn
        credential = properties["registrationInfoTokenCredential"]
        assert credential["Password"] == "PrivateSettingsRef:RegistrationInfoToken", agent.urn
        assert credential["UserName"] == "PLACEHOLDER_DO_NOT_USE", agent.urn
        protected = unwrap(agent.inputs["protectedSettings"])
        assert set(protected["Items"]) == {"RegistrationInfoToken"}, agent.urn
        assert is_secret(agent.inputs["protectedSettings"]), agent.urn
        # Renewals must not re-run the agent on registered hosts.
        assert "protectedSettings" in agent.ignore_changes, agent.urn


def test_the_token_expiry_is_computed_from_the_deploy_clock(example_run: OfflineRun) -> None:
    """The committed example plans years after it was written (it used to hard-code 2026-12-15)."""
    pool = example_run.of_type(rules.HOST_POOL)[0]
    expected = registration_token_expiry(FAR_FUTURE, timedelta(days=14))
    assert pool.inputs["registrationInfo"]["expirationTime"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert expected - FAR_FUTURE > timedelta(days=13), "at least validity less one hour of life"
    assert "registrationTokenExpiry" not in (ROOT / "Pulumi.example.yaml").read_text()


# --- session host egress ---------------------------------------------------------------------------

# Outbound destinations of session hosts, from learn virtual-desktop/required-fqdn-endpoint ("Session host
# virtual machines", Azure cloud): (purpose, protocol, port, where the address lies).
REQUIRED_EGRESS = [
    ("*.wvd.microsoft.com service traffic", "Tcp", 443, "WindowsVirtualDesktop"),
    ("agent traffic, *.prod.warm.ingest.monitor", "Tcp", 443, "AzureMonitor"),
    ("catalogartifact.azureedge.net", "Tcp", 443, "AzureFrontDoor.Frontend"),
    (
        "wvdportalstorageblob / mrsglobalsteus2prod blobs (DSC package, agent updates)",
        "Tcp",
        443,
        "AzureCloud",
    ),
    ("gcs.prod.monitoring.core.windows.net", "Tcp", 443, "AzureCloud"),
    ("login.microsoftonline.com", "Tcp", 443, "AzureActiveDirectory"),
    ("oneocsp.microsoft.com / www.microsoft.com certificates", "Tcp", 80, "Internet"),
    ("azkms.core.windows.net", "Tcp", 1688, "20.118.99.224"),
    ("instance metadata", "Tcp", 80, "169.254.169.254"),
    ("wire server", "Tcp", 80, "168.63.129.16"),
]
PLATFORM = {"169.254.169.254", "168.63.129.16"}


def _destination_matches(rule: dict[str, Any], target: str) -> bool:
    prefixes = [*(rule.get("destinationAddressPrefixes") or []), rule.get("destinationAddressPrefix")]
    for prefix in filter(None, prefixes):
        if prefix in ("*", target):
            return True
        # The Internet tag covers every public address, Azure's service tags included (learn
        # virtual-network/service-tags-overview); platform addresses are outside it.
        if prefix == "Internet" and target not in PLATFORM and target != "VirtualNetwork":
            return True
        try:
            if ipaddress.ip_address(target) in ipaddress.ip_network(prefix, strict=False):
                return True
        except ValueError:
            continue
    return False


def nsg_verdict(
    security_rules: list[dict[str, Any]], direction: str, protocol: str, port: int, target: str
) -> str:
    """The access of the first matching rule by priority, as an NSG evaluates it."""
    for rule in sorted(security_rules, key=lambda r: int(r["priority"])):
        if rule["direction"] != direction or rule["protocol"] not in ("*", protocol):
            continue
        if not any(rules._covers(p, port) for p in rules._rule_ports(rule)):
            continue
        if _destination_matches(rule, target):
            return str(rule["access"])
    return "Allow"  # Azure's default rules allow outbound to VirtualNetwork and Internet


def host_nsg(run: OfflineRun) -> list[dict[str, Any]]:
    return list(named(run, rules.NSG, "network-nsg-snet-hosts").inputs["securityRules"])


def test_session_hosts_reach_every_endpoint_avd_requires(small_run: OfflineRun) -> None:
    security_rules = host_nsg(small_run)
    blocked = [
        purpose
        for purpose, protocol, port, target in REQUIRED_EGRESS
        if nsg_verdict(security_rules, "Outbound", protocol, port, target) != "Allow"
    ]
    assert blocked == []
    assert nsg_verdict(security_rules, "Outbound", "Tcp", 25, "Internet") == "Deny", "the rest stays denied"


def test_rdp_shortpath_listener_and_public_path(small_run: OfflineRun) -> None:
    security_rules = host_nsg(small_run)
    pool = small_raw()["vpn"]["clientAddressPool"]
    vpn_rule = next(r for r in security_rules if r["name"] == "allow-shortpath-vpn")
    assert vpn_rule["sourceAddressPrefix"] == pool
    assert vpn_rule["destinationPortRange"] == "3390"
    assert nsg_verdict(security_rules, "Outbound", "Udp", 50000, "Internet") == "Allow", "STUN path blocked"
    command = decode_command(
        unwrap(extensions(small_run, "CustomScriptExtension")[0].inputs["settings"])["commandToExecute"]
    )
    assert "'fUseUdpPortRedirector' 1" in command
    assert '"shortpathPort":3390' in command


# --- gateway -----------------------------------------------------------------------------------------


def test_gateway_generation_follows_the_sku() -> None:
    """VpnGw1AZ exists only as Generation1 (SKU tables); Generation2 used to be hard-coded."""
    raw = copy.deepcopy(small_raw())
    raw["vpn"] |= {"sku": "VpnGw1AZ", "expectedConcurrentUsers": 150}
    run = run_with(raw)
    gateway = run.of_type(rules.GATEWAY)[0]
    assert gateway.inputs["vpnGatewayGeneration"] == "Generation1", gateway.urn
    assert [v for v in evaluate(run.resources) if v.rule == "p2s-entra-or-certificate"] == []


def test_the_example_gateway_is_generation2(small_run: OfflineRun) -> None:
    gateway = small_run.of_type(rules.GATEWAY)[0]
    assert (gateway.inputs["sku"]["name"], gateway.inputs["vpnGatewayGeneration"]) == (
        "VpnGw3AZ",
        "Generation2",
    )


# --- storage, encryption at host, defender ---------------------------------------------------------


def test_storage_account_diagnostics_ask_for_metrics_only(small_run: OfflineRun) -> None:
    """A storage account emits only metrics at its own level; logs come from its file service."""
    account = small_run.of_type(rules.STORAGE)[0]
    settings = [
        d
        for d in small_run.of_type(rules.DIAGNOSTIC_SETTING)
        if account.urn in d.property_dependencies.get("resourceUri", ())
    ]
    at_account = [d for d in settings if "fileServices" not in str(d.inputs["resourceUri"])]
    at_files = [d for d in settings if "fileServices" in str(d.inputs["resourceUri"])]
    assert len(at_account) == 1
    assert len(at_files) == 1
    assert not at_account[0].inputs.get("logs"), at_account[0].urn
    assert at_account[0].inputs["metrics"] == [{"category": "AllMetrics", "enabled": True}]
    assert at_files[0].inputs["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_session_hosts_wait_for_the_encryption_at_host_feature(small_run: OfflineRun) -> None:
    feature = small_run.of_type("azure-native:features:SubscriptionFeatureRegistration")[0]
    assert (feature.inputs["providerNamespace"], feature.inputs["featureName"]) == (
        "Microsoft.Compute",
        "EncryptionAtHost",
    )
    for vm in small_run.of_type(rules.VM):
        assert feature.urn in vm.dependencies, f"{vm.urn} does not wait for EncryptionAtHost"


def test_defender_plans_cover_servers_vaults_storage_and_databases(small_run: OfflineRun) -> None:
    plans = {r.inputs["pricingName"]: r.inputs for r in small_run.of_type("azure-native:security:Pricing")}
    assert set(plans) == {"VirtualMachines", "KeyVaults", "StorageAccounts", "OpenSourceRelationalDatabases"}
    assert all(p["pricingTier"] == "Standard" for p in plans.values())
    assert plans["VirtualMachines"]["subPlan"] == "P2"


# --- collector ---------------------------------------------------------------------------------------


def collector_app(run: OfflineRun) -> dict[str, Any]:
    return dict(unwrap(run.of_type(rules.CONTAINER_APP)[0].inputs))


def test_database_url_carries_no_password_and_is_url_encoded(small_run: OfflineRun) -> None:
    from sqlalchemy.engine import make_url

    env = {e["name"]: e for e in collector_app(small_run)["template"]["containers"][0]["env"]}
    url = make_url(env["FLEETWARD_DATABASE_URL"]["value"])
    assert url.password is None
    assert url.username == "id-fw-uks-collector"
    assert url.query["sslmode"] == "require"
    assert url.query["fleetward_entra_client_id"] == env["AZURE_CLIENT_ID"]["value"]


def test_postgres_is_entra_only_with_the_collector_identity_as_admin(small_run: OfflineRun) -> None:
    server = small_run.of_type(rules.POSTGRES)[0]
    assert server.inputs["authConfig"] == {
        "activeDirectoryAuth": "Enabled",
        "passwordAuth": "Disabled",
        "tenantId": small_raw()["vpn"]["tenantId"],
    }
    assert "administratorLoginPassword" not in server.inputs
    admin = small_run.of_type("azure-native:dbforpostgresql:Administrator")[0]
    identity = small_run.of_type("azure-native:managedidentity:UserAssignedIdentity")[0]
    assert admin.inputs["principalType"] == "ServicePrincipal"
    assert identity.urn in admin.property_dependencies["objectId"]
    assert identity.urn in admin.property_dependencies["principalName"]


def test_bootstrap_credentials_come_from_key_vault_with_least_privilege(small_run: OfflineRun) -> None:
    app = collector_app(small_run)
    secrets = {s["name"]: s for s in app["configuration"]["secrets"]}
    assert set(secrets) == {"collector-admin-token", "collector-enroll-secret"}
    assert all("value" not in s and s["keyVaultUrl"].endswith(f"/secrets/{n}") for n, s in secrets.items())
    env = {e["name"]: e for e in app["template"]["containers"][0]["env"]}
    assert env["FLEETWARD_BOOTSTRAP_ADMIN_TOKEN"]["secretRef"] == "collector-admin-token"
    assert env["FLEETWARD_BOOTSTRAP_ENROLL_SECRET"]["secretRef"] == "collector-enroll-secret"
    readers = [
        r for r in small_run.of_type("azure-native:authorization:RoleAssignment") if "kv-reader" in r.name
    ]
    vault_secrets = {r.urn: r for r in small_run.of_type("azure-native:keyvault:Secret")}
    assert len(readers) == 2
    for reader in readers:  # scoped to one secret each, not the vault
        assert set(reader.property_dependencies["scope"]) <= set(vault_secrets), reader.urn


def test_migrations_run_as_a_manual_job_with_the_collector_image_and_identity(small_run: OfflineRun) -> None:
    job = small_run.of_type(rules.CONTAINER_JOB)[0]
    inputs = unwrap(job.inputs)
    container = inputs["template"]["containers"][0]
    assert container["command"] == ["fleetward", "collector", "migrate"]
    assert container["image"] == collector_app(small_run)["template"]["containers"][0]["image"]
    assert inputs["configuration"]["triggerType"] == "Manual"
    assert inputs["identity"] == collector_app(small_run)["identity"]
    assert "collectorMigrationsJob" in small_run.outputs


def test_collector_url_is_the_stable_app_fqdn_resolvable_in_the_vnet(small_run: OfflineRun) -> None:
    environment = small_run.of_type(rules.CONTAINER_ENVIRONMENT)[0]
    url = small_run.outputs["collectorUrl"]
    assert url == "https://ca-fw-uks-collector.offline-0000.uksouth.azurecontainerapps.io"
    zone = named(small_run, "azure-native:privatedns:PrivateZone", "collector-dns-cae")
    assert environment.urn in zone.property_dependencies["privateZoneName"]
    wildcard = small_run.of_type("azure-native:privatedns:PrivateRecordSet")[0]
    assert wildcard.inputs["relativeRecordSetName"] == "*"
    assert environment.urn in wildcard.property_dependencies["aRecords"]
    assert collector_app(small_run)["configuration"]["ingress"]["external"] is True  # VNet-wide, env internal


# --- VPN clients resolve private names ---------------------------------------------------------------


def test_vpn_clients_get_a_dns_server_that_answers_from_the_private_zones(small_run: OfflineRun) -> None:
    vnet = small_run.of_type(rules.VNET)[0]
    endpoint = small_run.of_type("azure-native:dnsresolver:InboundEndpoint")[0]
    address = endpoint.inputs["ipConfigurations"][0]["privateIpAddress"]
    assert endpoint.inputs["ipConfigurations"][0]["privateIpAllocationMethod"] == "Static"
    assert vnet.inputs["dhcpOptions"]["dnsServers"] == [address]
    subnet = named(small_run, rules.SUBNET, "network-dns")
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet.inputs["addressPrefix"])
    assert subnet.inputs["delegations"][0]["serviceName"] == "Microsoft.Network/dnsResolvers"
    resolver = small_run.of_type("azure-native:dnsresolver:DnsResolver")[0]
    assert vnet.urn in resolver.property_dependencies["virtualNetwork"]
    links = small_run.of_type("azure-native:privatedns:VirtualNetworkLink")
    assert len(links) == 4  # file share, vault, postgres, container apps environment
    assert all(vnet.urn in link.property_dependencies["virtualNetwork"] for link in links)
    assert small_run.outputs["p2s"]["dnsServers"] == [address]


def test_policy_pack_runs_in_the_repository_virtualenv() -> None:
    pack = ROOT / "infra" / "policypack"
    document = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    assert document["runtime"]["name"] == "python"
    virtualenv = (pack / document["runtime"]["options"]["virtualenv"]).resolve()
    assert virtualenv == (ROOT / ".venv").resolve()
    assert list(virtualenv.glob("lib/python3*/site-packages/pulumi_policy")), "the venv lacks pulumi_policy"


# --- insecure defaults ---------------------------------------------------------------------------------


def test_rdp_turns_off_usb_printer_com_and_mtp_redirection(small_run: OfflineRun) -> None:
    rdp = small_run.of_type(rules.HOST_POOL)[0].inputs["customRdpProperty"]
    for setting in (
        "usbdevicestoredirect:s:;",
        "redirectprinters:i:0",
        "redirectcomports:i:0",
        "devicestoredirect:s:;",
    ):
        assert setting in rdp


def test_first_admin_password_is_in_key_vault_and_laps_rotates_it(small_run: OfflineRun) -> None:
    stored = [
        r
        for r in small_run.of_type("azure-native:keyvault:Secret")
        if r.inputs["secretName"] == "session-host-admin-password"
    ]
    assert len(stored) == 1
    assert is_secret(stored[0].inputs["properties"])
    for config in extensions(small_run, "CustomScriptExtension"):
        script = decode_command(unwrap(config.inputs["settings"])["commandToExecute"])
        assert "LAPS\\Config" in script, config.urn
        assert "'BackupDirectory' 1" in script, config.urn


# --- missing for the mission --------------------------------------------------------------------------


def test_hosts_are_configured_for_fslogix_kerberos_teams_and_smartcards() -> None:
    raw = copy.deepcopy(small_raw())
    raw["sessionHosts"]["installers"] = {
        "smartcardMiddleware": {
            "url": "https://packages.example-icb.nhs.uk/identity-agent.msi",
            "sha256": "a" * 64,
            "arguments": "ALLUSERS=1",
        }
    }
    run = run_with(raw)
    configs = extensions(run, "CustomScriptExtension")
    assert len(configs) == SMALL_HOSTS
    agent = {r.urn: r for r in extensions(run, "DSC")}
    share = run.outputs["profileShare"]
    for config in configs:
        assert set(config.dependencies) & set(agent), f"{config.urn} runs before the AVD agent"
        script = decode_command(unwrap(config.inputs["settings"])["commandToExecute"])
        assert share.replace("\\", "\\\\") in script, "FSLogix VHDLocations is not the profile share"
        for expected in (
            "'Enabled' 1",
            "'SizeInMBs'",
            "CloudKerberosTicketRetrievalEnabled",
            "LoadCredKeyFromProfile",
            "'IsWVDEnvironment' 1",
            "webrtc-redirector",
            "multimedia-redirection",
            "https://packages.example-icb.nhs.uk/identity-agent.msi",
            '"sha256":"' + "a" * 64,
        ):
            assert expected in script, f"{config.urn}: {expected} missing"
        assert '"profileSizeMB":30720' in script


def test_every_host_runs_the_monitor_agent_associated_with_avd_insights(small_run: OfflineRun) -> None:
    rule = small_run.of_type("azure-native:monitor:DataCollectionRule")[0]
    assert rule.inputs["dataCollectionRuleName"].startswith("microsoft-avdi-")
    counters = [c for s in rule.inputs["dataSources"]["performanceCounters"] for c in s["counterSpecifiers"]]
    assert "\\Terminal Services(*)\\Active Sessions" in counters
    assert len(extensions(small_run, "AzureMonitorWindowsAgent")) == SMALL_HOSTS
    associations = small_run.of_type("azure-native:monitor:DataCollectionRuleAssociation")
    vms = {vm.urn for vm in small_run.of_type(rules.VM)}
    assert {a.property_dependencies["resourceUri"][0] for a in associations} == vms
    assert all(rule.urn in a.property_dependencies["dataCollectionRuleId"] for a in associations)


def test_scaling_plan_has_the_avd_service_principal_power_role(small_run: OfflineRun) -> None:
    role = named(small_run, "azure-native:authorization:RoleAssignment", "desktop-avd-power")
    assert role.inputs["roleDefinitionId"].endswith("40c5ff49-9181-41f8-ae61-143b0e78555e")
    assert role.inputs["principalId"] == small_raw()["desktop"]["avdServicePrincipalObjectId"]
    assert role.inputs["principalType"] == "ServicePrincipal"
    plan = small_run.of_type("azure-native:desktopvirtualization:ScalingPlan")[0]
    assert role.urn in plan.dependencies
