<#
.SYNOPSIS
    fleetward session host configuration: FSLogix on the profile share with Entra Kerberos, Teams media
    optimisation, multimedia redirection, smartcard middleware, the RDP Shortpath listener and Windows LAPS.

.DESCRIPTION
    Run once per host by the Custom Script Extension after Entra join and AVD agent registration
    (infra/components/host_configuration.py builds the command). The launcher defines $Settings (JSON from the
    stack) before this body. Idempotent: every step sets a value or skips what is already there, so a new
    version of this file can simply be run again.

    Sources (registry names and values):
    - FSLogix: learn fslogix/reference-configuration-settings (Profiles: Enabled, VHDLocations, SizeInMBs,
      VolumeType, IsDynamic, DeleteLocalProfileWhenVHDShouldApply, FlipFlopProfileDirectoryName,
      PreventLoginWithFailure, PreventLoginWithTempProfile).
    - Entra Kerberos for the share: learn virtual-desktop/create-profile-container-azure-ad
      (CloudKerberosTicketRetrievalEnabled, LoadCredKeyFromProfile).
    - Teams: learn virtual-desktop/teams-on-avd (IsWVDEnvironment; Remote Desktop WebRTC Redirector Service).
    - Multimedia redirection: learn virtual-desktop/multimedia-redirection.
    - RDP Shortpath for managed networks: learn virtual-desktop/configure-rdp-shortpath (fUseUdpPortRedirector,
      UdpPortNumber 3390, inbound UDP 3390 firewall rule).
    - Windows LAPS: learn windows-server/identity/laps/laps-management-policy-settings (BackupDirectory 1 =
      Microsoft Entra ID, PasswordAgeDays, PasswordComplexity, PasswordLength, AdministratorAccountName).
#>
$ErrorActionPreference = 'Stop'
$Version = '1'
$logDirectory = Join-Path $env:ProgramData 'fleetward'
New-Item -ItemType Directory -Path $logDirectory -Force | Out-Null
Start-Transcript -Path (Join-Path $logDirectory 'hostconfig.log') -Append | Out-Null

function Set-RegistryValue {
    param([string]$Path, [string]$Name, $Value, [string]$Type = 'DWord')
    if (-not (Test-Path -Path $Path)) { New-Item -Path $Path -Force | Out-Null }
    New-ItemProperty -Path $Path -Name $Name -Value $Value -PropertyType $Type -Force | Out-Null
}

function Install-Msi {
    param($Installer, [string]$Name)
    if ($null -eq $Installer) { Write-Output "$Name not configured; skipped"; return }
    $file = Join-Path $env:TEMP "$Name.msi"
    Invoke-WebRequest -Uri $Installer.url -OutFile $file -UseBasicParsing
    if ($Installer.sha256) {
        $actual = (Get-FileHash -Path $file -Algorithm SHA256).Hash
        if ($actual -ne $Installer.sha256.ToUpperInvariant()) {
            throw "${Name}: downloaded SHA-256 $actual is not the pinned $($Installer.sha256)"
        }
    }
    $arguments = "/i `"$file`" /quiet /norestart $($Installer.arguments)"
    $process = Start-Process -FilePath 'msiexec.exe' -ArgumentList $arguments -Wait -PassThru
    if ($process.ExitCode -notin 0, 3010) { throw "${Name}: msiexec exited with $($process.ExitCode)" }
    Write-Output "$Name installed"
}

# FSLogix profile containers on the Azure Files share.
$profiles = 'HKLM:\SOFTWARE\FSLogix\Profiles'
Set-RegistryValue $profiles 'Enabled' 1
Set-RegistryValue $profiles 'VHDLocations' @($Settings.profileShare) 'MultiString'
Set-RegistryValue $profiles 'SizeInMBs' ([int]$Settings.profileSizeMB)
Set-RegistryValue $profiles 'VolumeType' 'VHDX' 'String'
Set-RegistryValue $profiles 'IsDynamic' 1
Set-RegistryValue $profiles 'DeleteLocalProfileWhenVHDShouldApply' 1
Set-RegistryValue $profiles 'FlipFlopProfileDirectoryName' 1
Set-RegistryValue $profiles 'PreventLoginWithFailure' 1
Set-RegistryValue $profiles 'PreventLoginWithTempProfile' 1

# Entra Kerberos: the host fetches Kerberos tickets for the share from Entra ID (no storage key on the host).
Set-RegistryValue 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa\Kerberos\Parameters' 'CloudKerberosTicketRetrievalEnabled' 1
Set-RegistryValue 'HKLM:\SOFTWARE\Policies\Microsoft\AzureADAccount' 'LoadCredKeyFromProfile' 1

# Teams media optimisation (video consultations) and multimedia redirection.
Set-RegistryValue 'HKLM:\SOFTWARE\Microsoft\Teams' 'IsWVDEnvironment' 1
Install-Msi $Settings.installers.webrtcRedirector 'webrtc-redirector'
Install-Msi $Settings.installers.multimediaRedirection 'multimedia-redirection'

# NHS smartcard middleware, so redirected smartcards work for e-prescribing and records.
Install-Msi $Settings.installers.smartcardMiddleware 'smartcard-middleware'

# RDP Shortpath for managed networks (VPN clients): the UDP listener and its firewall rule.
$winStations = 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations'
Set-RegistryValue $winStations 'fUseUdpPortRedirector' 1
Set-RegistryValue $winStations 'UdpPortNumber' ([int]$Settings.shortpathPort)
$ruleName = 'fleetward RDP Shortpath (managed networks)'
if (-not (Get-NetFirewallRule -DisplayName $ruleName -ErrorAction SilentlyContinue)) {
    New-NetFirewallRule -DisplayName $ruleName -Direction Inbound -Protocol UDP `
        -LocalPort ([int]$Settings.shortpathPort) -Action Allow -Profile Any | Out-Null
}

# Windows LAPS: a unique local administrator password per host, rotated and backed up to Entra ID.
$laps = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\LAPS\Config'
Set-RegistryValue $laps 'BackupDirectory' 1
Set-RegistryValue $laps 'PasswordAgeDays' ([int]$Settings.lapsPasswordAgeDays)
Set-RegistryValue $laps 'PasswordComplexity' 4
Set-RegistryValue $laps 'PasswordLength' 24
Set-RegistryValue $laps 'AdministratorAccountName' $Settings.adminUsername 'String'

Set-RegistryValue 'HKLM:\SOFTWARE\fleetward' 'HostConfigurationVersion' $Version 'String'
Write-Output "fleetward host configuration $Version applied"
Stop-Transcript | Out-Null
