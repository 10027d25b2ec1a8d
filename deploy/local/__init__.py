"""The one-machine runtime: Redis, the functions, a gateway, a scaler and a cluster."""
