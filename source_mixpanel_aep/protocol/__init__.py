"""Entry, the one stdout writer, the sync loop, logging and the protocol's input files (catalog, state)."""
