<#
  Intune Win32 app install script for the fleetward agent (docs/laptop-rollout.md, "Windows: Intune").
  Package this folder with IntuneWinAppUtil.exe: install.ps1, uninstall.ps1, the MSI, agent.toml and
  enroll-secret (one line; never on a command line, which Intune logs).

  Install command:   powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\install.ps1
  Runs as SYSTEM. Writes %ProgramData%\fleetward\agent.toml and enroll-secret (the MSI restricts the
  folder to SYSTEM and Administrators), then installs or upgrades the MSI silently. Exit code is
  msiexec's: 0 success, 3010 success and a reboot is wanted, 1618 another install is running (Intune retries).

  -Rollback: the MSI refuses to install over a newer version (MajorUpgrade), so first uninstall whatever
  version is there (uninstall.ps1; %ProgramData%\fleetward is kept), then install this one. Use it in the
  install command of the older app version you roll back to.
#>
param([switch]$Rollback)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$data = Join-Path $env:ProgramData "fleetward"
$msi = Get-ChildItem -Path $here -Filter "fleetward-agent-*.msi" | Sort-Object Name | Select-Object -Last 1
if (-not $msi) { Write-Error "no fleetward-agent-*.msi beside install.ps1"; exit 1603 }

# The MSI creates the folder with its ACL; create it first (same ACL) so the files below are never
# readable by users, even for the seconds before msiexec runs.
New-Item -ItemType Directory -Force -Path $data | Out-Null
icacls $data /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" | Out-Null

foreach ($name in @("agent.toml", "enroll-secret")) {
    $source = Join-Path $here $name
    if (Test-Path $source) { Copy-Item -Force -Path $source -Destination (Join-Path $data $name) }
}

if ($Rollback) {
    & powershell.exe -NoProfile -ExecutionPolicy Bypass -File (Join-Path $here "uninstall.ps1")
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

$log = Join-Path $env:WINDIR "Temp\fleetward-agent-install.log"
$process = Start-Process -FilePath "msiexec.exe" -Wait -PassThru -ArgumentList @(
    "/i", "`"$($msi.FullName)`"", "/qn", "/norestart", "/l*v", "`"$log`""
)
exit $process.ExitCode
