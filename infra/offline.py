"""Run the Pulumi program offline, under ``pulumi.runtime.set_mocks``, and record every resource it registers.

Used by ``fleetward infra plan`` and by the tests. The recording keeps what a reviewer and the policy pack need:
type token, logical name, URN, parent URN, inputs (camelCase engine names, secrets still wrapped so they can be
masked or asserted) and property dependencies (which resource each input came from).

Secret keys missing from a stack file (they are normally set with ``pulumi config set --secret``) are filled with
an obvious stand-in so the program can run; the stand-in never leaves this process unmasked.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

STAND_IN_SECRET = "offline-plan-stand-in-not-a-real-secret"
PROJECT = "fleetward"
MOCK_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# The ARM name argument of each type whose name key is not simply <lowerCamelClass>Name.
_NAME_KEYS: dict[str, str] = {
    "azure-native:network:PublicIPAddress": "publicIpAddressName",
    "azure-native:managedidentity:UserAssignedIdentity": "resourceName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:FileShare": "shareName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:keyvault:Secret": "secretName",
    "azure-native:dbforpostgresql:Server": "serverName",
    "azure-native:dbforpostgresql:Database": "databaseName",
    "azure-native:app:ManagedEnvironment": "environmentName",
    "azure-native:privatedns:PrivateZone": "privateZoneName",
    "azure-native:compute:VirtualMachine": "vmName",
    "azure-native:compute:VirtualMachineExtension": "vmExtensionName",
    "azure-native:monitor:DiagnosticSetting": "name",
}


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration as the engine would have received it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: Mapping[str, Any]
    property_dependencies: Mapping[str, tuple[str, ...]]
    custom_timeouts: tuple[str, str, str] = ("", "", "")
    dependencies: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()


@dataclass
class OfflineRun:
    """Everything a program run under mocks produced."""

    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    invokes: list[str] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]


def azure_name(type_token: str, logical_name: str, inputs: Mapping[str, Any]) -> str:
    """The Azure resource name a resource would get, from its name argument."""
    class_name = type_token.rsplit(":", 1)[-1]
    key = _NAME_KEYS.get(type_token, class_name[0].lower() + class_name[1:] + "Name")
    value = inputs.get(key)
    return value if isinstance(value, str) else logical_name


def run_offline(
    program: Callable[[], Mapping[str, Any] | None],
    config: Mapping[str, str],
    *,
    secret_keys: list[str],
    stack: str = "offline",
) -> OfflineRun:
    """Run ``program`` with ``config`` (full keys to engine strings) under mocks; return what it registered."""
    import pulumi
    from pulumi.runtime import mocks, rpc, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    record = OfflineRun()
    lock = threading.Lock()

    class FabricatingMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            name = azure_name(args.typ, args.name, args.inputs)
            resource_id = (
                f"/subscriptions/{MOCK_SUBSCRIPTION}/resourceGroups/rg-offline/providers/"
                f"{args.typ.replace('azure-native:', '').replace(':', '/')}/{name}"
            )
            outputs = dict(args.inputs) | {"name": name, "id": resource_id}
            identity = args.inputs.get("identity")
            if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
                # The input is a list of identity ids, the output a map keyed by them.
                outputs["identity"] = identity | {
                    "userAssignedIdentities": {str(i): {} for i in identity["userAssignedIdentities"]}
                }
            outputs |= _computed_outputs(args.typ, name, resource_id)
            return resource_id, outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            with lock:
                record.invokes.append(args.token)
            if args.token == "azure-native:desktopvirtualization:getHostPoolRegistrationToken":
                return {"token": STAND_IN_SECRET, "expirationTime": "2026-12-15T00:00:00Z"}, []
            if args.token == "azure-native:authorization:getClientConfig":
                return {
                    "subscriptionId": MOCK_SUBSCRIPTION,
                    "tenantId": MOCK_SUBSCRIPTION,
                    "clientId": MOCK_SUBSCRIPTION,
                    "objectId": MOCK_SUBSCRIPTION,
                }, []
            return {}, []

    class RecordingMonitor(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != "pulumi:pulumi:Stack":
                inputs = rpc.deserialize_properties(request.object)
                dependencies = {key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()}
                with lock:
                    record.resources.append(
                        RecordedResource(
                            urn=response.urn,
                            type=request.type,
                            name=request.name,
                            parent=request.parent,
                            custom=bool(request.custom),
                            inputs=inputs,
                            property_dependencies=dependencies,
                            custom_timeouts=(
                                request.customTimeouts.create,
                                request.customTimeouts.update,
                                request.customTimeouts.delete,
                            ),
                            dependencies=tuple(request.dependencies),
                            ignore_changes=tuple(request.ignoreChanges),
                        )
                    )
            return response

    monitor = RecordingMonitor(FabricatingMocks())
    _ensure_event_loop()
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    async def main() -> None:
        outputs = program() or {}
        for key, value in outputs.items():
            output = pulumi.Output.from_input(value)
            record.outputs[key] = await output.future()
            if await output.is_secret():
                record.secret_outputs.add(key)

    _sync_await(run_pulumi_func(main))
    return record


def _ensure_event_loop() -> None:
    """Pulumi's runtime works on the thread's current event loop; an `asyncio.run` earlier in the
    same process (a test, an embedding tool) leaves the main thread without one."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def _computed_outputs(type_token: str, name: str, resource_id: str) -> dict[str, Any]:
    """Values Azure computes that the program reads back."""
    match type_token:
        case "azure-native:network:PublicIPAddress":
            return {"ipAddress": "198.51.100." + str(10 + sum(map(ord, name)) % 200)}
        case "azure-native:operationalinsights:Workspace":
            return {"customerId": MOCK_SUBSCRIPTION}
        case "azure-native:managedidentity:UserAssignedIdentity":
            return {"principalId": MOCK_SUBSCRIPTION, "clientId": MOCK_SUBSCRIPTION}
        case "azure-native:keyvault:Vault":
            return {"properties": {"vaultUri": f"https://{name}.vault.azure.net/"}}
        case "azure-native:keyvault:Secret":
            return {"properties": {"secretUri": f"https://vault.vault.azure.net/secrets/{name}"}}
        case "azure-native:dbforpostgresql:Server":
            return {"fullyQualifiedDomainName": f"{name}.postgres.database.azure.com"}
        case "azure-native:app:ManagedEnvironment":
            return {"defaultDomain": "offline-0000.uksouth.azurecontainerapps.io", "staticIp": "10.60.2.100"}
        case _:
            return {}
