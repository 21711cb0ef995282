"""Errors of policy bundles.

BundleError (fleetward.errors.FleetwardError)
 +-- BundleFormatError     not a bundle: truncated, not JSON, wrong shape
 +-- BundleDigestError     content does not match the digest in the manifest
 +-- BundleSignatureError  no signature from a trusted key verifies
 +-- BundleReplayError     not newer than the bundle already in use
 +-- KeyFileError          a key file is missing, unreadable or not an Ed25519 key
"""

from __future__ import annotations

from fleetward.errors import FleetwardError


class BundleError(FleetwardError):
    pass


class BundleFormatError(BundleError):
    pass


class BundleDigestError(BundleError):
    pass


class BundleSignatureError(BundleError):
    pass


class BundleReplayError(BundleError):
    pass


class KeyFileError(BundleError):
    pass
