"""Signed policy bundles: how the monthly baseline reaches every laptop, and nothing else does.

A bundle is one JSON document: a manifest (version, creation time, content digest) and the
content (policies, baselines, framework maps), signed with Ed25519 by the platform team. The
signature covers the canonical bytes of the manifest, and the manifest pins the content by its
SHA-256, so changing one byte anywhere is detected. The private key never needs to be on the
collector: the collector only stores and serves what was signed elsewhere.
"""
