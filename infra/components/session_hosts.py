"""Session hosts: Windows 11 multi-session VMs that join Entra ID, register with the host pool and are configured.

Each host is Trusted Launch with encryption at host and has no public IP. Extensions run one after another
(Azure refuses concurrent extension operations on one VM): Entra join, the AVD agent through DSC, the host
configuration script (host_configuration.py), then the Azure Monitor Agent, associated with the AVD Insights
data collection rule.

The registration token only ever travels as a secret, into the DSC extension's protected settings, referenced by
the ``registrationInfoTokenCredential`` PSCredential parameter of the AddSessionHost configuration (Azure/RDS-
Templates ARM-wvd-templates/DSC/Configuration.ps1 declares ``[PSCredential]$RegistrationInfoTokenCredential``;
avdaccelerator workload/bicep/modules/avdSessionHosts/.bicep/registerSessionHostsOnHopstPool.bicep and AVM
pass ``registrationInfoTokenCredential: {UserName: 'PLACEHOLDER_DO_NOT_USE', Password:
'PrivateSettingsRef:RegistrationInfoToken'}``). A plain ``registrationInfoToken`` object is not a credential:
the DSC extension only resolves ``PrivateSettingsRef`` inside credential-shaped values, so the host never
registers. Hosts ignore later token renewals (``ignore_changes``): they registered with the first one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, compute, monitor, network

from infra.components.base import (
    PACKAGE,
    VIRTUAL_MACHINE_USER_LOGIN,
    Placement,
    child,
    role_definition_id,
    secret,
)
from infra.components.host_configuration import encoded_command, host_settings
from infra.components.network import SHORTPATH_MANAGED_PORT
from infra.config import SessionHostsConfig
from infra.naming import resource_name, session_host_name
from infra.regions import ZONES

# Intune's MDM application id, passed to AADLoginForWindows to enrol on join.
INTUNE_MDM_ID = "0000000a-0000-0000-c000-000000000000"


def dsc_settings(artifact_url: str, host_pool_name: str, *, intune: bool) -> dict[str, object]:
    """Public settings of the AVD agent's DSC extension; the token is a credential in the protected ones."""
    return {
        "modulesUrl": artifact_url,
        "configurationFunction": "Configuration.ps1\\AddSessionHost",
        "properties": {
            "hostPoolName": host_pool_name,
            "aadJoin": True,
            "mdmId": INTUNE_MDM_ID if intune else "",
            "UseAgentDownloadEndpoint": True,
            "registrationInfoTokenCredential": {
                "UserName": "PLACEHOLDER_DO_NOT_USE",
                "Password": "PrivateSettingsRef:RegistrationInfoToken",
            },
        },
    }


@dataclass(frozen=True)
class SessionHostsArgs:
    placement: Placement
    config: SessionHostsConfig
    subnet_id: pulumi.Input[str]
    host_pool_name: pulumi.Input[str]
    registration_token: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    user_group_object_id: str
    profile_share: pulumi.Output[str]
    profile_size_gib: int
    data_collection_rule_id: pulumi.Input[str]
    depends_on: list[pulumi.Resource]


class SessionHosts(pulumi.ComponentResource):
    """``config.count`` hosts spread over the availability zones."""

    vm_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: SessionHostsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:SessionHosts", name, None, opts)
        p, cfg = args.placement, args.config
        token = secret(args.registration_token)
        configure = args.profile_share.apply(
            lambda share: encoded_command(
                host_settings(
                    profile_share=share,
                    profile_size_gib=args.profile_size_gib,
                    installers=cfg.installers,
                    admin_username=cfg.admin_username,
                    shortpath_port=int(SHORTPATH_MANAGED_PORT),
                )
            )
        )
        vm_ids: list[pulumi.Output[str]] = []
        for index in range(1, cfg.count + 1):
            computer = session_host_name(p.prefix, index)
            nic = network.NetworkInterface(
                f"{name}-nic-{index:03d}",
                network_interface_name=resource_name("nic", computer),
                resource_group_name=p.resource_group_name,
                location=p.location,
                # Private address only: users arrive through AVD's reverse connect, never inbound.
                ip_configurations=[
                    {
                        "name": "ipconfig1",
                        "subnet": {"id": args.subnet_id},
                        "private_ip_allocation_method": "Dynamic",
                    }
                ],
                enable_accelerated_networking=True,
                tags=dict(p.tags),
                opts=child(self),
            )
            vm = compute.VirtualMachine(
                f"{name}-vm-{index:03d}",
                vm_name=resource_name("vm", computer),
                resource_group_name=p.resource_group_name,
                location=p.location,
                zones=[ZONES[(index - 1) % len(ZONES)]] if p.zonal else None,
                hardware_profile={"vm_size": cfg.vm_size},
                license_type="Windows_Client",
                identity={"type": "SystemAssigned"},
                storage_profile={
                    "image_reference": {
                        "publisher": cfg.image_publisher,
                        "offer": cfg.image_offer,
                        "sku": cfg.image_sku,
                        "version": cfg.image_version,
                    },
                    "os_disk": {
                        "create_option": "FromImage",
                        "delete_option": "Delete",
                        "managed_disk": {"storage_account_type": "Premium_LRS"},
                    },
                },
                os_profile={
                    "computer_name": computer,
                    "admin_username": cfg.admin_username,
                    "admin_password": args.admin_password,
                    "windows_configuration": {"enable_automatic_updates": True, "provision_vm_agent": True},
                },
                network_profile={"network_interfaces": [{"id": nic.id, "primary": True}]},
                security_profile={
                    "security_type": "TrustedLaunch",
                    "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True},
                    "encryption_at_host": True,
                },
                diagnostics_profile={"boot_diagnostics": {"enabled": True}},
                tags=dict(p.tags),
                # depends_on: the EncryptionAtHost feature registration (program.py).
                opts=child(self, additional_secret_outputs=["osProfile"], depends_on=args.depends_on),
            )
            entra_join = compute.VirtualMachineExtension(
                f"{name}-entra-{index:03d}",
                vm_extension_name="AADLoginForWindows",
                vm_name=vm.name,
                resource_group_name=p.resource_group_name,
                location=p.location,
                publisher="Microsoft.Azure.ActiveDirectory",
                type="AADLoginForWindows",
                type_handler_version="2.0",
                auto_upgrade_minor_version=True,
                settings={"mdmId": INTUNE_MDM_ID} if cfg.intune_enrolment else None,
                tags=dict(p.tags),
                opts=child(self),
            )
            agent = compute.VirtualMachineExtension(
                f"{name}-avd-{index:03d}",
                vm_extension_name="Microsoft.PowerShell.DSC",
                vm_name=vm.name,
                resource_group_name=p.resource_group_name,
                location=p.location,
                publisher="Microsoft.Powershell",
                type="DSC",
                type_handler_version="2.73",
                auto_upgrade_minor_version=True,
                settings=pulumi.Output.from_input(args.host_pool_name).apply(
                    lambda pool: dsc_settings(cfg.avd_agent_artifact_url, pool, intune=cfg.intune_enrolment)
                ),
                protected_settings=token.apply(lambda t: {"Items": {"RegistrationInfoToken": t}}),
                tags=dict(p.tags),
                # Join Entra first, so the host registers with its Entra device identity.
                opts=child(
                    self,
                    depends_on=[entra_join],
                    additional_secret_outputs=["protectedSettings"],
                    ignore_changes=["protectedSettings"],
                ),
            )
            configured = compute.VirtualMachineExtension(
                f"{name}-config-{index:03d}",
                vm_extension_name="fleetward-host-configuration",
                vm_name=vm.name,
                resource_group_name=p.resource_group_name,
                location=p.location,
                publisher="Microsoft.Compute",
                type="CustomScriptExtension",
                type_handler_version="1.10",
                auto_upgrade_minor_version=True,
                settings=configure.apply(lambda command: {"commandToExecute": command}),
                tags=dict(p.tags),
                opts=child(self, depends_on=[agent]),
            )
            monitor_agent = compute.VirtualMachineExtension(
                f"{name}-ama-{index:03d}",
                vm_extension_name="AzureMonitorWindowsAgent",
                vm_name=vm.name,
                resource_group_name=p.resource_group_name,
                location=p.location,
                publisher="Microsoft.Azure.Monitor",
                type="AzureMonitorWindowsAgent",
                type_handler_version="1.0",
                auto_upgrade_minor_version=True,
                enable_automatic_upgrade=True,
                tags=dict(p.tags),
                opts=child(self, depends_on=[configured]),
            )
            monitor.DataCollectionRuleAssociation(
                f"{name}-dcra-{index:03d}",
                association_name="avd-insights",
                resource_uri=vm.id,
                data_collection_rule_id=args.data_collection_rule_id,
                description="AVD Insights counters and events of this session host.",
                opts=child(self, depends_on=[monitor_agent]),
            )
            vm_ids.append(vm.id)
        # Users sign in to Entra-joined hosts only with this role (learn virtual-desktop/azure-ad-joined-session-hosts).
        authorization.RoleAssignment(
            f"{name}-vm-login",
            principal_id=args.user_group_object_id,
            principal_type="Group",
            role_definition_id=role_definition_id(p.subscription_id, VIRTUAL_MACHINE_USER_LOGIN),
            scope=p.resource_group_id,
            opts=child(self),
        )
        self.vm_ids = pulumi.Output.all(*vm_ids).apply(lambda ids: [str(i) for i in ids])
        self.register_outputs({"vm_ids": self.vm_ids})
