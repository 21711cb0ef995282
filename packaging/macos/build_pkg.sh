#!/bin/sh
# Build dist/fleetward-agent-<version>.pkg on macOS from the frozen agent (packaging/freeze.py).
# Run by .github/workflows/agent-packages.yml on macos-latest:
#   python packaging/freeze.py && sh packaging/macos/build_pkg.sh 0.1.0
# Payload: /opt/fleetward/ (the frozen agent with its own Python) and
# /Library/LaunchDaemons/io.fleetward.agent.plist; scripts/ stop the old daemon and start the new one.
# Signing: set PKG_SIGNING_IDENTITY to a "Developer ID Installer" identity in the keychain (then
# notarise with `xcrun notarytool`); unsigned packages install through MDM but not by double-click.
set -eu
VERSION="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$ROOT/build/pkg"
rm -rf "$WORK" && mkdir -p "$WORK/payload/opt" "$WORK/payload/Library/LaunchDaemons" "$ROOT/dist"
cp -R "$ROOT/build/frozen/fleetward-agent" "$WORK/payload/opt/fleetward"
cp "$HERE/io.fleetward.agent.plist" "$WORK/payload/Library/LaunchDaemons/"
plutil -lint "$WORK/payload/Library/LaunchDaemons/io.fleetward.agent.plist" "$HERE/io.fleetward.agent.mobileconfig"
pkgbuild --root "$WORK/payload" --install-location / --scripts "$HERE/scripts" \
    --identifier io.fleetward.agent --version "$VERSION" --ownership recommended \
    "$WORK/fleetward-agent-component.pkg"
SIGN=""
if [ -n "${PKG_SIGNING_IDENTITY:-}" ]; then SIGN="--sign $PKG_SIGNING_IDENTITY"; fi
# shellcheck disable=SC2086  # SIGN is two words or none
productbuild --package "$WORK/fleetward-agent-component.pkg" $SIGN "$ROOT/dist/fleetward-agent-$VERSION.pkg"
echo "$ROOT/dist/fleetward-agent-$VERSION.pkg"
