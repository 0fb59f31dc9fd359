"""One class per network, each with its own pre- and post-processing."""
