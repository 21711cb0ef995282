<#
  Intune Win32 app uninstall script for the fleetward agent.
  Uninstall command: powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\uninstall.ps1
  Finds the installed version by the MSI's UpgradeCode (it never changes, packaging/windows/fleetward-agent.wxs),
  so the same command removes any version. %ProgramData%\fleetward (config, device key, outbox) is kept;
  pass -Purge to delete it too.
#>
param([switch]$Purge)
$ErrorActionPreference = "Stop"
$upgradeCode = "{F290EFA5-C69B-4B32-A043-BB9B812997DB}"
$installer = New-Object -ComObject WindowsInstaller.Installer
$products = @($installer.RelatedProducts($upgradeCode))
$code = 0
foreach ($product in $products) {
    $process = Start-Process -FilePath "msiexec.exe" -Wait -PassThru -ArgumentList @("/x", $product, "/qn", "/norestart")
    if ($process.ExitCode -ne 0 -and $process.ExitCode -ne 3010) { $code = $process.ExitCode }
}
if ($Purge) { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $env:ProgramData "fleetward") }
exit $code
