"""Deployment: Kubernetes manifests and the one-machine local runtime."""
