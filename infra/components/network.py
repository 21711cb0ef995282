"""Network: the estate VNet, its subnets, deny-by-default NSGs and the DNS resolver VPN clients use.

Session hosts get outbound only, to the endpoints AVD requires (learn virtual-desktop/required-fqdn-endpoint,
"Session host virtual machines": 443 to WindowsVirtualDesktop, AzureMonitor, AzureFrontDoor.Frontend and, for the
agent's storage and the DSC package on wvdportalstorageblob, AzureCloud; 80 for the certificate endpoints
oneocsp.microsoft.com and www.microsoft.com, which have no usable service tag; 1688 KMS; IMDS and the wire
server). The rules extend avdaccelerator workload/bicep/modules/networking/deploy.bicep, which has no deny rule at
all; blocking any of them is unsupported. Nothing is reachable from the internet: every NSG ends with an explicit
deny-all inbound rule. ``GatewaySubnet`` carries no NSG, as Azure requires.

Name resolution: the VNet's DNS server is the static address of a DNS Private Resolver inbound endpoint, which
answers from the private zones linked to the VNet. VPN clients receive the VNet's DNS servers in the profile
they download (learn vpn-gateway/vpn-gateway-about-point-to-site-routing "DNS"; the Azure VPN Client profile's
``<dnsservers>`` element), so laptops resolve the collector and the profile share to private addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import dnsresolver, network

from infra.addressing import first_usable_address
from infra.components.base import PACKAGE, Placement, child
from infra.config import NetworkConfig
from infra.naming import resource_name

DENY_ALL_INBOUND: dict[str, Any] = {
    "name": "deny-all-inbound",
    "priority": 4096,
    "direction": "Inbound",
    "access": "Deny",
    "protocol": "*",
    "source_address_prefix": "*",
    "source_port_range": "*",
    "destination_address_prefix": "*",
    "destination_port_range": "*",
}

DENY_INTERNET_OUTBOUND: dict[str, Any] = {
    "name": "deny-internet-outbound",
    "priority": 4096,
    "direction": "Outbound",
    "access": "Deny",
    "protocol": "*",
    "source_address_prefix": "*",
    "source_port_range": "*",
    "destination_address_prefix": "Internet",
    "destination_port_range": "*",
}

# KMS activation hosts for Windows in Azure (azkms.core.windows.net and kms.core.windows.net).
KMS_ADDRESSES = ["20.118.99.224/32", "40.83.235.53/32", "23.102.135.246/32"]


def _rule(
    name: str, priority: int, direction: str, protocol: str, source: str, dest: str | list[str], ports: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": name,
        "priority": priority,
        "direction": direction,
        "access": "Allow",
        "protocol": protocol,
        "source_address_prefix": source,
        "source_port_range": "*",
        "destination_port_range": ports,
    }
    if isinstance(dest, list):
        rule["destination_address_prefixes"] = dest
    else:
        rule["destination_address_prefix"] = dest
    return rule


# RDP Shortpath's listener port for managed networks (learn virtual-desktop/rdp-shortpath, "managed networks").
SHORTPATH_MANAGED_PORT = "3390"


def session_host_rules(client_pool: str, *, shortpath_public: bool) -> list[dict[str, Any]]:
    """Outbound allow list AVD needs, RDP Shortpath from the VNet and VPN clients, and deny everything else."""
    public_shortpath = (
        # STUN-negotiated UDP straight to the client's public address: the session host needs "UDP outbound to all
        # public IP space" (learn windows-365/enterprise/rdp-shortpath-public-networks; virtual-desktop/
        # configure-rdp-shortpath). Without it only the TURN relay is left, adding latency to video calls.
        [_rule("allow-shortpath-public", 200, "Outbound", "Udp", "VirtualNetwork", "Internet", "1024-65535")]
        if shortpath_public
        else []
    )
    return [
        _rule(
            "allow-shortpath-managed",
            100,
            "Inbound",
            "Udp",
            "VirtualNetwork",
            "VirtualNetwork",
            SHORTPATH_MANAGED_PORT,
        ),
        _rule(
            "allow-shortpath-vpn",
            110,
            "Inbound",
            "Udp",
            client_pool,
            "VirtualNetwork",
            SHORTPATH_MANAGED_PORT,
        ),
        DENY_ALL_INBOUND,
        _rule("allow-avd-service", 100, "Outbound", "Tcp", "VirtualNetwork", "WindowsVirtualDesktop", "443"),
        _rule("allow-azure-cloud-8443", 110, "Outbound", "Tcp", "VirtualNetwork", "AzureCloud", "8443"),
        _rule("allow-azure-cloud-443", 115, "Outbound", "Tcp", "VirtualNetwork", "AzureCloud", "443"),
        _rule("allow-azure-monitor", 120, "Outbound", "Tcp", "VirtualNetwork", "AzureMonitor", "443"),
        _rule("allow-front-door", 130, "Outbound", "Tcp", "VirtualNetwork", "AzureFrontDoor.Frontend", "443"),
        _rule("allow-entra-id", 140, "Outbound", "Tcp", "VirtualNetwork", "AzureActiveDirectory", "443"),
        _rule("allow-kms", 150, "Outbound", "Tcp", "VirtualNetwork", KMS_ADDRESSES, "1688"),
        _rule("allow-imds", 160, "Outbound", "Tcp", "VirtualNetwork", "169.254.169.254", "80"),
        _rule("allow-wire-server", 170, "Outbound", "Tcp", "VirtualNetwork", "168.63.129.16", "80"),
        _rule(
            "allow-stun-turn",
            180,
            "Outbound",
            "Udp",
            "VirtualNetwork",
            ["20.202.0.0/16", "51.5.0.0/16"],
            "3478",
        ),
        _rule(
            "allow-update-delivery", 190, "Outbound", "Tcp", "VirtualNetwork", "AzureUpdateDelivery", "443"
        ),
        _rule("allow-certificates-80", 195, "Outbound", "Tcp", "VirtualNetwork", "Internet", "80"),
        *public_shortpath,
        DENY_INTERNET_OUTBOUND,
    ]


def private_endpoint_rules(session_host_prefix: str) -> list[dict[str, Any]]:
    """Only SMB from the session hosts and HTTPS from inside the VNet reach private endpoints."""
    return [
        _rule("allow-smb-from-hosts", 100, "Inbound", "Tcp", session_host_prefix, "VirtualNetwork", "445"),
        _rule("allow-https-from-vnet", 110, "Inbound", "Tcp", "VirtualNetwork", "VirtualNetwork", "443"),
        DENY_ALL_INBOUND,
    ]


def collector_rules(client_pool: str) -> list[dict[str, Any]]:
    """Laptops reach the collector over the VPN only; Container Apps needs its load balancer probes."""
    return [
        _rule("allow-https-from-vpn", 100, "Inbound", "Tcp", client_pool, "VirtualNetwork", "443"),
        _rule("allow-https-from-vnet", 110, "Inbound", "Tcp", "VirtualNetwork", "VirtualNetwork", "443"),
        _rule("allow-lb-probes", 120, "Inbound", "*", "AzureLoadBalancer", "*", "*"),
        DENY_ALL_INBOUND,
    ]


def dns_resolver_rules(client_pool: str) -> list[dict[str, Any]]:
    """DNS (53) from VPN clients and the VNet to the resolver's inbound endpoint, nothing else."""
    return [
        _rule("allow-dns-from-vpn", 100, "Inbound", "*", client_pool, "VirtualNetwork", "53"),
        _rule("allow-dns-from-vnet", 110, "Inbound", "*", "VirtualNetwork", "VirtualNetwork", "53"),
        DENY_ALL_INBOUND,
    ]


def database_rules(collector_prefix: str) -> list[dict[str, Any]]:
    return [
        _rule(
            "allow-postgres-from-collector", 100, "Inbound", "Tcp", collector_prefix, "VirtualNetwork", "5432"
        ),
        DENY_ALL_INBOUND,
    ]


@dataclass(frozen=True)
class NetworkArgs:
    placement: Placement
    config: NetworkConfig
    vpn_client_pool: str
    shortpath_public: bool = True


class Network(pulumi.ComponentResource):
    """The estate VNet with gateway, session-host, private-endpoint, collector and database subnets."""

    vnet_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    gateway_subnet_id: pulumi.Output[str]
    session_host_subnet_id: pulumi.Output[str]
    private_endpoint_subnet_id: pulumi.Output[str]
    collector_subnet_id: pulumi.Output[str]
    database_subnet_id: pulumi.Output[str]
    dns_server: str

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Network", name, None, opts)
        p, cfg = args.placement, args.config
        # Fixed so the VNet can name it before the resolver exists, and VPN profiles never go stale.
        self.dns_server = first_usable_address(cfg.dns_resolver_subnet)
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=resource_name("vnet", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            address_space={"address_prefixes": [cfg.address_space]},
            dhcp_options={"dns_servers": [self.dns_server]},
            tags=dict(p.tags),
            # Subnets are standalone resources; newer network APIs keep them when the VNet is updated
            # (pulumi-azure-native #611), and ignoring the inline list avoids any remaining churn.
            opts=child(self, ignore_changes=["subnets"]),
        )
        nsgs = {
            "snet-hosts": session_host_rules(args.vpn_client_pool, shortpath_public=args.shortpath_public),
            "snet-pe": private_endpoint_rules(cfg.session_host_subnet),
            "snet-collector": collector_rules(args.vpn_client_pool),
            "snet-db": database_rules(cfg.collector_subnet),
            "snet-dns": dns_resolver_rules(args.vpn_client_pool),
        }
        nsg_ids = {
            key: network.NetworkSecurityGroup(
                f"{name}-nsg-{key}",
                network_security_group_name=resource_name("nsg", p.prefix, key),
                resource_group_name=p.resource_group_name,
                location=p.location,
                security_rules=rules,
                tags=dict(p.tags),
                opts=child(self),
            ).id
            for key, rules in nsgs.items()
        }
        layout: list[tuple[str, str, str, dict[str, Any]]] = [
            ("gateway", "GatewaySubnet", cfg.gateway_subnet, {}),
            (
                "hosts",
                "snet-hosts",
                cfg.session_host_subnet,
                {"network_security_group": {"id": nsg_ids["snet-hosts"]}},
            ),
            (
                "pe",
                "snet-pe",
                cfg.private_endpoint_subnet,
                {
                    "network_security_group": {"id": nsg_ids["snet-pe"]},
                    "private_endpoint_network_policies": "Enabled",
                },
            ),
            (
                "collector",
                "snet-collector",
                cfg.collector_subnet,
                {
                    "network_security_group": {"id": nsg_ids["snet-collector"]},
                    "delegations": [{"name": "container-apps", "service_name": "Microsoft.App/environments"}],
                },
            ),
            (
                "db",
                "snet-db",
                cfg.database_subnet,
                {
                    "network_security_group": {"id": nsg_ids["snet-db"]},
                    "delegations": [
                        {"name": "postgres", "service_name": "Microsoft.DBforPostgreSQL/flexibleServers"}
                    ],
                },
            ),
            (
                "dns",
                "snet-dns",
                cfg.dns_resolver_subnet,
                {
                    "network_security_group": {"id": nsg_ids["snet-dns"]},
                    "delegations": [
                        {"name": "dns-resolver", "service_name": "Microsoft.Network/dnsResolvers"}
                    ],
                },
            ),
        ]
        ids: dict[str, pulumi.Output[str]] = {}
        previous: network.Subnet | None = None
        for key, subnet_name, prefix, extra in layout:
            # One subnet at a time: parallel PUTs on one VNet fail with AnotherOperationInProgress.
            previous = network.Subnet(
                f"{name}-{key}",
                subnet_name=subnet_name,
                virtual_network_name=vnet.name,
                resource_group_name=p.resource_group_name,
                address_prefix=prefix,
                opts=child(self, depends_on=[previous] if previous else []),
                **extra,
            )
            ids[key] = previous.id
        resolver = dnsresolver.DnsResolver(
            f"{name}-dnspr",
            dns_resolver_name=resource_name("dnspr", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            virtual_network={"id": vnet.id},
            tags=dict(p.tags),
            opts=child(self),
        )
        dnsresolver.InboundEndpoint(
            f"{name}-dnspr-in",
            inbound_endpoint_name="inbound",
            dns_resolver_name=resolver.name,
            resource_group_name=p.resource_group_name,
            location=p.location,
            ip_configurations=[
                {
                    "subnet": {"id": ids["dns"]},
                    "private_ip_allocation_method": "Static",
                    "private_ip_address": self.dns_server,
                }
            ],
            tags=dict(p.tags),
            opts=child(self),
        )
        self.vnet_id = vnet.id
        self.vnet_name = vnet.name
        self.gateway_subnet_id = ids["gateway"]
        self.session_host_subnet_id = ids["hosts"]
        self.private_endpoint_subnet_id = ids["pe"]
        self.collector_subnet_id = ids["collector"]
        self.database_subnet_id = ids["db"]
        self.register_outputs(
            {
                "vnet_id": self.vnet_id,
                "gateway_subnet_id": self.gateway_subnet_id,
                "session_host_subnet_id": self.session_host_subnet_id,
                "private_endpoint_subnet_id": self.private_endpoint_subnet_id,
                "collector_subnet_id": self.collector_subnet_id,
                "database_subnet_id": self.database_subnet_id,
            }
        )
