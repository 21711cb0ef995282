"""CrossGuard policy pack for the estate. ``rules`` holds plain, tested functions; ``__main__`` only builds the
PolicyPack (its constructor starts the analyzer server and blocks, so tests never import it)."""
