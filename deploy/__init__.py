"""Sprout deployment assets: Kubernetes manifests and the one-machine local runtime."""
