"""The one-machine local runtime of Sprout (local cluster stand-ins and launchers)."""
