"""kubesim: a simulated Kubernetes API server for Sprout's tests, benchmarks and local stack.

It serves what Sprout uses of a cluster, over real HTTP, so the worker reaches it through the
official ``kubernetes`` client exactly as it reaches a cluster: create, get, list, delete and
watch of core/v1 pods and services and networking.k8s.io/v1 ingresses in one namespace, with
the same status codes and Status bodies, name validation, label selectors, resourceVersion,
graceful pod deletion, Pod Security ``restricted`` admission (``deploy.podsecurity``) and a
simulated scheduler/kubelet (with deterministic failure hooks), plus fault injection.

Modules: ``store`` (objects, resourceVersion, watch history), ``selectors``, ``names`` and
``validation`` (defaulting and 422s), ``api`` (verbs and admission), ``lifecycle`` (scheduler
and kubelet), ``faults`` (latency, errors, stats), ``server`` (HTTP), ``persistence`` (state
file), ``simulator`` (wiring) and ``__main__`` (CLI). See README.md beside this file.

From Python::

    with Simulator(SimConfig(start_delay=0)) as sim:
        sim.write_kubeconfig(path)          # then kubernetes.config.load_kube_config(path)
        sim.configure(error_rate=0.2, seed=1)

From a shell: ``python -m deploy.local.kubesim --port 0 --kubeconfig-out kubeconfig``.
"""

from .config import SimConfig
from .simulator import Simulator, SimulatorProcess, SimulatorStartError

__all__ = ["SimConfig", "Simulator", "SimulatorProcess", "SimulatorStartError"]
