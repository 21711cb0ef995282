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
    if security.get("securityType") != "TrustedLaunch":
        messages.append("securityProfile.securityType is not TrustedLaunch")
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
        "Session hosts use Trusted Launch and encryption at host.",
        session_host_hardening,
    ),
    Rule(
        "no-inbound-from-internet",
        "No NSG rule allows inbound from the internet (RDP/SSH).",
        inbound_from_internet,
    ),
    Rule(
        "p2s-entra-or-certificate",
        "P2S only Entra ID or certificate over OpenVPN/IKEv2; AZ SKUs.",
        p2s_entra_or_certificate,
    ),
    Rule(
        "s2s-custom-ipsec-policy",
        "Every S2S connection has a strong custom IPsec/IKE policy.",
        s2s_custom_ipsec_policy,
    ),
    Rule("storage-private-tls12", "Storage: public access off, TLS 1.2 minimum.", storage_private_tls12),
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
