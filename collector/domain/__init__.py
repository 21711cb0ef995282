"""The collector's pure core: status runs, point-in-time state, grace, waivers and staleness.

No I/O, no clock reads: the store loads data, these functions decide what it means.
"""
