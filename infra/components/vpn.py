"""VPN gateway: zone-redundant, point-to-site with Entra ID over OpenVPN, site-to-site to practices.

Entra ID authentication needs OpenVPN and the Azure VPN Client, and no hardware tokens (learn
vpn-gateway/point-to-site-entra-gateway). Every site-to-site connection carries a custom IPsec/IKE policy aligned
with the NCSC IPsec Recommended Profile (IKEv2, AES-256-GCM, SHA-384, ECP-384) instead of Azure's
interoperability-first defaults (learn vpn-gateway/vpn-gateway-about-compliance-crypto).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import network

from infra.components.base import PACKAGE, Placement, child, secret
from infra.components.monitoring import add_diagnostics
from infra.config import VpnConfig
from infra.naming import resource_name
from infra.regions import ZONES
from infra.sizing import generation_for

# Field names follow the SDK; note the API docstrings swap the "phase 1"/"phase 2" labels of ike_* and ipsec_*.
IPSEC_POLICY: dict[str, Any] = {
    "ike_encryption": "GCMAES256",
    "ike_integrity": "SHA384",
    "dh_group": "ECP384",
    "ipsec_encryption": "GCMAES256",
    "ipsec_integrity": "GCMAES256",
    "pfs_group": "ECP384",
    "sa_life_time_seconds": 27000,
    "sa_data_size_kilobytes": 102400000,
}

# Creating or resizing a gateway takes 45 minutes or more (learn vpn-gateway-about-vpn-gateway-settings).
GATEWAY_TIMEOUTS = pulumi.CustomTimeouts(create="90m", update="90m", delete="60m")


@dataclass(frozen=True)
class VpnGatewayArgs:
    placement: Placement
    config: VpnConfig
    gateway_subnet_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    shared_keys: Mapping[str, pulumi.Output[str]]


def client_configuration(config: VpnConfig) -> dict[str, Any]:
    """P2S settings: Entra ID (OpenVPN) always, certificates optionally, never SSTP or RADIUS."""
    tenant = str(config.tenant_id)
    auth_types = ["AAD"]
    cfg: dict[str, Any] = {
        "vpn_client_address_pool": {"address_prefixes": [config.client_address_pool]},
        "vpn_client_protocols": list(config.client_protocols),
        "aad_tenant": f"https://login.microsoftonline.com/{tenant}/",
        "aad_issuer": f"https://sts.windows.net/{tenant}/",
        "aad_audience": str(config.audience),
    }
    if config.certificate_auth is not None:
        auth_types.append("Certificate")
        cfg["vpn_client_root_certificates"] = [
            {"name": c.name, "public_cert_data": c.public_cert_data}
            for c in config.certificate_auth.root_certificates
        ]
        cfg["vpn_client_revoked_certificates"] = [
            {"name": c.name, "thumbprint": c.thumbprint} for c in config.certificate_auth.revoked_certificates
        ]
    cfg["vpn_authentication_types"] = auth_types
    return cfg


class VpnGateway(pulumi.ComponentResource):
    """Standard static zone-redundant public IPs, the route-based gateway, and one tunnel per practice."""

    gateway_id: pulumi.Output[str]
    public_ip_addresses: pulumi.Output[list[str]]
    connection_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: VpnGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:VpnGateway", name, None, opts)
        p, cfg = args.placement, args.config
        # Active-active gateways need every public IP with the same SKU, allocation and zones (caf #940).
        ip_count = 2 if cfg.active_active else 1
        public_ips = [
            network.PublicIPAddress(
                f"{name}-pip-{index}",
                public_ip_address_name=resource_name("pip", p.prefix, f"vgw-{index}"),
                resource_group_name=p.resource_group_name,
                location=p.location,
                sku={"name": "Standard", "tier": "Regional"},
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                zones=list(ZONES) if p.zonal else None,
                tags=dict(p.tags),
                opts=child(self),
            )
            for index in range(1, ip_count + 1)
        ]
        gateway = network.VirtualNetworkGateway(
            f"{name}-vgw",
            virtual_network_gateway_name=resource_name("vgw", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            gateway_type="Vpn",
            vpn_type="RouteBased",
            # VpnGw1AZ exists only as Generation1; a hard-coded Generation2 fails the PUT.
            vpn_gateway_generation=generation_for(cfg.sku),
            sku={"name": cfg.sku, "tier": cfg.sku},
            active_active=cfg.active_active,
            enable_bgp=False,
            ip_configurations=[
                {
                    "name": f"ipconfig-{index}",
                    "private_ip_allocation_method": "Dynamic",
                    "public_ip_address": {"id": pip.id},
                    "subnet": {"id": args.gateway_subnet_id},
                }
                for index, pip in enumerate(public_ips, start=1)
            ],
            vpn_client_configuration=client_configuration(cfg),
            tags=dict(p.tags),
            opts=child(self, custom_timeouts=GATEWAY_TIMEOUTS),
        )
        add_diagnostics(
            f"{name}-vgw", target_id=gateway.id, workspace_id=args.workspace_id, parent=self, metrics=True
        )

        connection_ids: list[pulumi.Output[str]] = []
        for site in cfg.practice_sites:
            local = network.LocalNetworkGateway(
                f"{name}-lgw-{site.name}",
                local_network_gateway_name=resource_name("lgw", p.prefix, site.name),
                resource_group_name=p.resource_group_name,
                location=p.location,
                gateway_ip_address=site.gateway_ip_address,
                local_network_address_space={"address_prefixes": list(site.address_spaces)},
                tags={**p.tags, "practice-ods-code": site.ods_code},
                opts=child(self),
            )
            connection = network.VirtualNetworkGatewayConnection(
                f"{name}-cn-{site.name}",
                virtual_network_gateway_connection_name=resource_name("cn", p.prefix, site.name),
                resource_group_name=p.resource_group_name,
                location=p.location,
                connection_type="IPsec",
                connection_protocol="IKEv2",
                virtual_network_gateway1={"id": gateway.id},
                local_network_gateway2={"id": local.id},
                shared_key=secret(args.shared_keys[site.name]),
                ipsec_policies=[IPSEC_POLICY],
                use_policy_based_traffic_selectors=False,
                dpd_timeout_seconds=45,
                tags={**p.tags, "practice-ods-code": site.ods_code},
                opts=child(self, custom_timeouts=GATEWAY_TIMEOUTS, additional_secret_outputs=["sharedKey"]),
            )
            connection_ids.append(connection.id)

        self.gateway_id = gateway.id
        self.public_ip_addresses = pulumi.Output.all(*[pip.ip_address for pip in public_ips]).apply(
            lambda addresses: [str(a) for a in addresses]
        )
        self.connection_ids = pulumi.Output.all(*connection_ids).apply(lambda ids: [str(i) for i in ids])
        self.register_outputs(
            {
                "gateway_id": self.gateway_id,
                "public_ip_addresses": self.public_ip_addresses,
                "connection_ids": self.connection_ids,
            }
        )
