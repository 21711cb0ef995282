"""Security rules of the estate as plain functions, shared by the policy pack, the tests and the offline plan.

A resource rule takes ``(resource_type, props)`` (engine camelCase names, e.g. ``vpnClientConfiguration``) and
returns violation messages; an empty list is a pass. Props may be partial (unknown during preview), so rules
read with ``.get`` and judge only what is present, except where absence itself is the risk (IPsec policies,
storage access, tags). The one stack rule, diagnostics, follows property dependencies from each diagnostic
setting's ``resourceUri`` to the resource it watches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from infra.config import REQUIRED_TAGS
from infra.sizing import SKU_GENERATIONS

Props = Mapping[str, Any]
ResourceCheck = Callable[[str, Props], list[str]]

NIC = "azure-native:network:NetworkInterface"
VM = "azure-native:compute:VirtualMachine"
NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"
GATEWAY = "azure-native:network:VirtualNetworkGateway"
CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"
STORAGE = "azure-native:storage:StorageAccount"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
VAULT = "azure-native:keyvault:Vault"
POSTGRES = "azure-native:dbforpostgresql:Server"
CONTAINER_APP = "azure-native:app:ContainerApp"
CONTAINER_JOB = "azure-native:app:Job"
CONTAINER_ENVIRONMENT = "azure-native:app:ManagedEnvironment"
SUBNET = "azure-native:network:Subnet"
VNET = "azure-native:network:VirtualNetwork"
HOST_POOL = "azure-native:desktopvirtualization:HostPool"
AVD_TYPES = frozenset(
    {
        "azure-native:desktopvirtualization:HostPool",
        "azure-native:desktopvirtualization:ApplicationGroup",
        "azure-native:desktopvirtualization:Workspace",
        "azure-native:desktopvirtualization:ScalingPlan",
    }
)
NEEDS_DIAGNOSTICS = AVD_TYPES | {GATEWAY, STORAGE}

# Azure resources that carry no tags of their own.
UNTAGGABLE = frozenset(
    {
        "azure-native:network:Subnet",
        "azure-native:network:SecurityRule",
        "azure-native:network:PrivateDnsZoneGroup",
        "azure-native:monitor:DiagnosticSetting",
        "azure-native:authorization:RoleAssignment",
        "azure-native:storage:FileShare",
        "azure-native:dbforpostgresql:Database",
        "azure-native:dbforpostgresql:Administrator",
        "azure-native:privatedns:PrivateRecordSet",
        "azure-native:monitor:DataCollectionRuleAssociation",
        "azure-native:features:SubscriptionFeatureRegistration",
        "azure-native:security:Pricing",
    }
)

INTERNET_SOURCES = frozenset({"*", "internet", "any", "0.0.0.0/0", "::/0"})
ALLOWED_P2S_PROTOCOLS = frozenset({"OpenVPN", "IkeV2"})
ALLOWED_P2S_AUTH = frozenset({"AAD", "Certificate"})
# NCSC IPsec Recommended Profile class: IKEv2 with AES-256-GCM, SHA-384 and ECP-384 (or DH group 24).
STRONG_IPSEC: dict[str, frozenset[str]] = {
    "ikeEncryption": frozenset({"GCMAES256", "AES256"}),
    "ikeIntegrity": frozenset({"SHA384", "GCMAES256"}),
    "dhGroup": frozenset({"ECP384", "DHGroup24"}),
    "ipsecEncryption": frozenset({"GCMAES256"}),
    "ipsecIntegrity": frozenset({"GCMAES256"}),
    "pfsGroup": frozenset({"ECP384", "PFS24"}),
}


def _covers(port_range: str, port: int) -> bool:
    if port_range.strip() == "*":
        return True
    low, _, high = port_range.partition("-")
    return int(low) <= port <= int(high or low)


def _rule_ports(rule: Props) -> list[str]:
    return [str(p) for p in (rule.get("destinationPortRanges") or [])] + (
        [str(rule["destinationPortRange"])] if rule.get("destinationPortRange") else []
    )


def _rule_sources(rule: Props) -> list[str]:
    return [str(s) for s in (rule.get("sourceAddressPrefixes") or [])] + (
        [str(rule["sourceAddressPrefix"])] if rule.get("sourceAddressPrefix") else []
    )


def inbound_from_internet(resource_type: str, props: Props) -> list[str]:
    """No security rule may allow inbound traffic from the internet (RDP and SSH least of all)."""
    if resource_type == NSG:
        rules = list(props.get("securityRules") or [])
    elif resource_type == SECURITY_RULE:
        rules = [props]
    else:
        return []
    messages = []
    for rule in rules:
        if rule.get("direction") != "Inbound" or rule.get("access") != "Allow":
            continue
        if not any(source.lower() in INTERNET_SOURCES for source in _rule_sources(rule)):
            continue
        ports = _rule_ports(rule)
        exposed = [
            name for name, port in (("RDP", 3389), ("SSH", 22)) if any(_covers(p, port) for p in ports)
        ]
        what = " and ".join(exposed) if exposed else f"ports {', '.join(ports) or '*'}"
        messages.append(f"rule {rule.get('name')!r} allows {what} inbound from the internet")
    return messages


def no_public_ip_on_session_hosts(resource_type: str, props: Props) -> list[str]:
    """Session hosts are reached through AVD's reverse connect only: no NIC or VM carries a public IP."""
    if resource_type == NIC:
        return [
            f"ip configuration {c.get('name')!r} has a public IP"
            for c in props.get("ipConfigurations") or []
            if c.get("publicIPAddress")
        ]
    if resource_type == VM:
        configs = (props.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []
        return [
            f"network interface configuration {c.get('name')!r} creates a public IP"
            for c in configs
            for ip in c.get("ipConfigurations") or []
            if ip.get("publicIPAddressConfiguration")
        ]
    return []


def session_host_hardening(resource_type: str, props: Props) -> list[str]:
    """VMs use Trusted Launch (secure boot, vTPM) and encryption at host."""
    if resource_type != VM:
        return []
    security = props.get("securityProfile") or {}
    messages = []
    uefi = security.get("uefiSettings") or {}
    if security.get("securityType") != "TrustedLaunch":
        messages.append("securityProfile.securityType is not TrustedLaunch")
    if uefi.get("secureBootEnabled") is not True:
        messages.append("securityProfile.uefiSettings.secureBootEnabled is not on")
    if uefi.get("vTpmEnabled") is not True:
        messages.append("securityProfile.uefiSettings.vTpmEnabled is not on")
    if security.get("encryptionAtHost") is not True:
        messages.append("securityProfile.encryptionAtHost is not enabled")
    return messages


def p2s_entra_or_certificate(resource_type: str, props: Props) -> list[str]:
    """Gateways: zone-redundant VpnGw*AZ (never Basic); P2S only Entra ID or certificates over OpenVPN/IKEv2."""
    if resource_type != GATEWAY:
        return []
    messages = []
    sku = str((props.get("sku") or {}).get("name", ""))
    if sku == "Basic" or (sku and not (sku.startswith("VpnGw") and sku.endswith("AZ"))):
        messages.append(f"sku {sku!r} is not a zone-redundant VpnGw*AZ SKU")
    if props.get("vpnType", "RouteBased") != "RouteBased":
        messages.append("vpnType must be RouteBased (Entra ID P2S is unsupported on policy-based gateways)")
    tier = (props.get("sku") or {}).get("tier")
    if sku and tier and tier != sku:
        messages.append(f"sku.tier {tier!r} differs from sku.name {sku!r}")
    generation = props.get("vpnGatewayGeneration")
    if sku in SKU_GENERATIONS and generation not in SKU_GENERATIONS[sku]:
        offered = " or ".join(sorted(SKU_GENERATIONS[sku]))
        messages.append(f"{sku} exists only as {offered}, not {generation!r} (vpnGatewayGeneration)")
    client = props.get("vpnClientConfiguration")
    if not client:
        return messages
    protocols = set(client.get("vpnClientProtocols") or [])
    auth = set(client.get("vpnAuthenticationTypes") or [])
    if not protocols or protocols - ALLOWED_P2S_PROTOCOLS:
        messages.append(f"P2S protocols {sorted(protocols)} must be OpenVPN and/or IkeV2 (no SSTP)")
    if not auth or auth - ALLOWED_P2S_AUTH:
        messages.append(f"P2S authentication {sorted(auth)} must be AAD and/or Certificate (no RADIUS)")
    if "AAD" in auth and "OpenVPN" not in protocols:
        messages.append("Entra ID (AAD) authentication needs the OpenVPN protocol")
    return messages


def s2s_custom_ipsec_policy(resource_type: str, props: Props) -> list[str]:
    """Every IPsec connection has a custom IKEv2 policy of the GCM-AES-256 / SHA-384 / ECP-384 class."""
    if resource_type != CONNECTION or props.get("connectionType") not in (None, "IPsec"):
        return []
    messages = []
    if props.get("connectionProtocol", "IKEv2") != "IKEv2":
        messages.append(f"connectionProtocol {props.get('connectionProtocol')!r} is not IKEv2")
    policies = props.get("ipsecPolicies") or []
    if not policies:
        messages.append("no custom ipsecPolicies: Azure's defaults favour interoperability over strength")
    for index, policy in enumerate(policies):
        for field, allowed in STRONG_IPSEC.items():
            if policy.get(field) not in allowed:
                messages.append(
                    f"ipsecPolicies[{index}].{field} {policy.get(field)!r} is not one of {sorted(allowed)}"
                )
    return messages


def storage_private_tls12(resource_type: str, props: Props) -> list[str]:
    """Storage accounts: public network access off, TLS 1.2 minimum, HTTPS only, no public blobs."""
    if resource_type != STORAGE:
        return []
    messages = []
    if props.get("publicNetworkAccess") != "Disabled":
        messages.append(f"publicNetworkAccess is {props.get('publicNetworkAccess')!r}, not 'Disabled'")
    if props.get("minimumTlsVersion") != "TLS1_2":
        messages.append(f"minimumTlsVersion is {props.get('minimumTlsVersion')!r}, not 'TLS1_2'")
    if props.get("enableHttpsTrafficOnly") is False:
        messages.append("enableHttpsTrafficOnly is off")
    if props.get("allowBlobPublicAccess") is True:
        messages.append("allowBlobPublicAccess is on")
    return messages


def storage_no_shared_key(resource_type: str, props: Props) -> list[str]:
    """Storage accounts refuse shared-key (account key and SAS) access: hosts use Entra Kerberos."""
    if resource_type == STORAGE and props.get("allowSharedKeyAccess") is not False:
        return [f"allowSharedKeyAccess is {props.get('allowSharedKeyAccess')!r}, not False (default is on)"]
    return []


def key_vault_private(resource_type: str, props: Props) -> list[str]:
    """Key Vaults: public network access off, network ACLs deny by default, RBAC authorisation."""
    if resource_type != VAULT:
        return []
    properties = props.get("properties") or {}
    messages = []
    if properties.get("publicNetworkAccess") != "Disabled":
        messages.append(
            f"properties.publicNetworkAccess is {properties.get('publicNetworkAccess')!r}, not 'Disabled'"
        )
    if (properties.get("networkAcls") or {}).get("defaultAction") != "Deny":
        messages.append("properties.networkAcls.defaultAction is not 'Deny'")
    if properties.get("enableRbacAuthorization") is not True:
        messages.append("properties.enableRbacAuthorization is off (access policies grant whole vaults)")
    return messages


def postgres_private_entra(resource_type: str, props: Props) -> list[str]:
    """PostgreSQL flexible servers: no public network access, Entra sign-in on, passwords off."""
    if resource_type != POSTGRES:
        return []
    messages = []
    access = (props.get("network") or {}).get("publicNetworkAccess")
    if access != "Disabled":
        messages.append(f"network.publicNetworkAccess is {access!r}, not 'Disabled'")
    auth = props.get("authConfig") or {}
    if auth.get("activeDirectoryAuth") != "Enabled":
        messages.append("authConfig.activeDirectoryAuth is not 'Enabled'")
    if auth.get("passwordAuth") != "Disabled":
        messages.append(f"authConfig.passwordAuth is {auth.get('passwordAuth')!r}, not 'Disabled'")
    if props.get("administratorLoginPassword"):
        messages.append("administratorLoginPassword is set: use Entra administrators")
    return messages


def container_apps_private(resource_type: str, props: Props) -> list[str]:
    """Container Apps environments are internal to the VNet; apps never accept plain HTTP."""
    if resource_type == CONTAINER_ENVIRONMENT:
        messages = []
        if (props.get("vnetConfiguration") or {}).get("internal") is not True:
            messages.append("vnetConfiguration.internal is not true: the environment would have a public IP")
        if props.get("publicNetworkAccess") != "Disabled":
            messages.append(f"publicNetworkAccess is {props.get('publicNetworkAccess')!r}, not 'Disabled'")
        return messages
    if resource_type == CONTAINER_APP:
        ingress = (props.get("configuration") or {}).get("ingress") or {}
        if ingress.get("allowInsecure") is True:
            return ["configuration.ingress.allowInsecure is on (plain HTTP)"]
    return []


def _rdp_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for item in text.split(";"):
        name, _, rest = item.strip().partition(":")
        if name:
            settings[name.lower()] = rest.partition(":")[2]
    return settings


# RDP properties that must be present and off; absent means the client default, which redirects.
RDP_OFF: dict[str, str] = {
    "drivestoredirect": "",
    "redirectclipboard": "0",
    "usbdevicestoredirect": "",
    "redirectprinters": "0",
    "redirectcomports": "0",
    "devicestoredirect": "",
}


def rdp_no_data_redirection(resource_type: str, props: Props) -> list[str]:
    """Host pools keep drives, clipboard, USB, printers, COM ports and MTP/PTP devices out of sessions."""
    if resource_type != HOST_POOL:
        return []
    settings = _rdp_settings(str(props.get("customRdpProperty") or ""))
    return [
        f"customRdpProperty {name} is {settings.get(name)!r}, not {off!r}"
        for name, off in RDP_OFF.items()
        if settings.get(name) != off
    ]


# Subnets Azure forbids or does not need an NSG on (learn virtual-network/network-security-groups-overview).
NSG_EXEMPT_SUBNETS = frozenset({"GatewaySubnet", "AzureFirewallSubnet", "RouteServerSubnet"})


def subnet_has_nsg(resource_type: str, props: Props) -> list[str]:
    """Every subnet (standalone or inline in a VNet) has an NSG, except the gateway subnets Azure exempts."""
    if resource_type == SUBNET:
        subnets = [(props.get("subnetName") or props.get("name"), props.get("networkSecurityGroup"))]
    elif resource_type == VNET:
        subnets = [(s.get("name"), s.get("networkSecurityGroup")) for s in props.get("subnets") or []]
    else:
        return []
    return [
        f"subnet {name!r} has no network security group"
        for name, nsg in subnets
        if name not in NSG_EXEMPT_SUBNETS and not nsg
    ]


def required_tags(resource_type: str, props: Props) -> list[str]:
    """Every taggable Azure resource carries the estate's required tags."""
    if not resource_type.startswith("azure-native:") or resource_type in UNTAGGABLE:
        return []
    tags = props.get("tags") or {}
    missing = [tag for tag in REQUIRED_TAGS if not str(tags.get(tag, "")).strip()]
    return [f"missing required tag(s): {', '.join(missing)}"] if missing else []


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: ResourceCheck


RESOURCE_RULES: tuple[Rule, ...] = (
    Rule("no-public-ip-on-session-hosts", "Session hosts have no public IP.", no_public_ip_on_session_hosts),
    Rule(
        "session-host-hardening",
        "Session hosts use Trusted Launch (Secure Boot, vTPM) and encryption at host.",
        session_host_hardening,
    ),
    Rule(
        "no-inbound-from-internet",
        "No NSG rule allows inbound from the internet (RDP/SSH).",
        inbound_from_internet,
    ),
    Rule(
        "p2s-entra-or-certificate",
        "P2S only Entra ID or certificate over OpenVPN/IKEv2; AZ SKUs in a generation that offers them.",
        p2s_entra_or_certificate,
    ),
    Rule(
        "s2s-custom-ipsec-policy",
        "Every S2S connection has a strong custom IPsec/IKE policy.",
        s2s_custom_ipsec_policy,
    ),
    Rule("storage-private-tls12", "Storage: public access off, TLS 1.2 minimum.", storage_private_tls12),
    Rule("storage-no-shared-key", "Storage: shared-key access off.", storage_no_shared_key),
    Rule("key-vault-private", "Key Vault: no public access, deny by default, RBAC.", key_vault_private),
    Rule(
        "postgres-private-entra",
        "PostgreSQL: no public access, Entra sign-in only.",
        postgres_private_entra,
    ),
    Rule(
        "container-apps-private",
        "Container Apps: internal environment, no plain HTTP.",
        container_apps_private,
    ),
    Rule(
        "rdp-no-data-redirection",
        "Host pools: no drive, clipboard, USB, printer, COM or MTP/PTP redirection.",
        rdp_no_data_redirection,
    ),
    Rule("subnet-has-nsg", "Every subnet but GatewaySubnet has an NSG.", subnet_has_nsg),
    Rule("required-tags", "Every taggable resource carries the required tags.", required_tags),
)

DIAGNOSTICS_RULE = "diagnostics-on-avd-gateway-storage"


class ResourceLike(Protocol):
    """What the stack rule needs; matches pulumi_policy.PolicyResource and infra.offline.RecordedResource."""

    @property
    def urn(self) -> str: ...

    @property
    def property_dependencies(self) -> Mapping[str, Sequence[Any]]: ...


def missing_diagnostics(resources: Iterable[tuple[str, str, ResourceLike]]) -> list[tuple[str, str]]:
    """(urn, message) for each AVD object, gateway or storage account no diagnostic setting watches.

    ``resources`` yields (type, urn, resource); a setting watches the resources its ``resourceUri`` depends on.
    """
    items = list(resources)
    watched: set[str] = set()
    for resource_type, _urn, resource in items:
        if resource_type == DIAGNOSTIC_SETTING:
            for dependency in resource.property_dependencies.get("resourceUri", ()):
                watched.add(dependency if isinstance(dependency, str) else str(dependency.urn))
    return [
        (urn, "no diagnostic setting sends its logs to Log Analytics")
        for resource_type, urn, _ in items
        if resource_type in NEEDS_DIAGNOSTICS and urn not in watched
    ]


EXPOSURE_RULE = "container-app-ingress-stays-in-vnet"


def external_ingress_outside_vnet(
    resources: Iterable[tuple[str, str, Props, Mapping[str, Sequence[str]]]],
) -> list[tuple[str, str]]:
    """(urn, message) for each container app with ``external`` ingress whose environment is not internal.

    Inside an internal environment ``external`` ingress reaches only the VNet (and VPN clients); anywhere else it
    is the internet. ``resources`` yields (type, urn, props, property dependencies); an app's environment is the
    resource its ``managedEnvironmentId`` depends on, and must be in the same stack to be judged internal.
    """
    items = list(resources)
    internal = {
        urn
        for resource_type, urn, props, _ in items
        if resource_type == CONTAINER_ENVIRONMENT
        and (props.get("vnetConfiguration") or {}).get("internal") is True
    }
    found = []
    for resource_type, urn, props, dependencies in items:
        if resource_type != CONTAINER_APP:
            continue
        ingress = (props.get("configuration") or {}).get("ingress") or {}
        if ingress.get("external") is not True:
            continue
        environments = {str(d) for d in dependencies.get("managedEnvironmentId", ())}
        if not environments & internal:
            found.append(
                (urn, "external ingress on an environment that is not internal reaches the internet")
            )
    return found
