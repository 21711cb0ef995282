"""One ComponentResource per concern of the estate; each parents its children and registers its outputs."""
