"""kubesim as a process: CLI, kubeconfig, SIGTERM, and the state file across restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client, config

from deploy.local.kubesim import SimulatorProcess
from tests.kubesim_helpers import NAMESPACE, compliant_pod, core_api, new_api_client, wait_for


def api_for(kubeconfig: Path) -> Any:
    return new_api_client(kubeconfig)


def test_cli_prints_url_writes_kubeconfig_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = SimulatorProcess.start(kubeconfig, args=["--start-delay", "0"])
    try:
        assert process.url.startswith("http://127.0.0.1:")
        assert kubeconfig.stat().st_mode & 0o777 == 0o600
        load: Any = config.load_kube_config
        loaded = client.Configuration()
        load(config_file=str(kubeconfig), client_configuration=loaded)  # the documented way
        assert loaded.host == process.url
        api_client = api_for(kubeconfig)
        try:
            assert core_api(api_client).list_namespaced_pod(NAMESPACE).items == []
            contexts: Any = config.list_kube_config_contexts
            _, active = contexts(config_file=str(kubeconfig))
            assert active["context"]["namespace"] == NAMESPACE
        finally:
            api_client.close()
    finally:
        assert process.stop() == 0


def test_state_file_keeps_objects_and_running_pods_across_restart(tmp_path: Path) -> None:
    kubeconfig, state = tmp_path / "kubeconfig", tmp_path / "state.json"
    first = SimulatorProcess.start(kubeconfig, state_file=state, args=["--start-delay", "0"])
    api_client = api_for(kubeconfig)
    try:
        core = core_api(api_client)
        created = core.create_namespaced_pod(NAMESPACE, compliant_pod("keeper"))
        wait_for(lambda: core.read_namespaced_pod("keeper", NAMESPACE).status.phase == "Running")
        service = core.create_namespaced_service(
            NAMESPACE, {"metadata": {"name": "keeper"}, "spec": {"ports": [{"port": 80}]}}
        )
        version = int(core.read_namespaced_pod("keeper", NAMESPACE).metadata.resource_version)
    finally:
        api_client.close()
        assert first.stop() == 0
    assert state.exists()

    second = SimulatorProcess.start(kubeconfig, state_file=state, args=["--start-delay", "5"])
    api_client = api_for(kubeconfig)
    try:
        core = core_api(api_client)
        pod = core.read_namespaced_pod("keeper", NAMESPACE)
        assert pod.metadata.uid == created.metadata.uid
        assert pod.status.phase == "Running"  # not restarted through Pending
        kept = core.read_namespaced_service("keeper", NAMESPACE)
        assert kept.metadata.resource_version == service.metadata.resource_version
        new = core.create_namespaced_service(
            NAMESPACE, {"metadata": {"name": "fresh"}, "spec": {"ports": [{"port": 80}]}}
        )
        assert int(new.metadata.resource_version) > version
    finally:
        api_client.close()
        assert second.stop() == 0


def test_kill_after_save_keeps_state(tmp_path: Path) -> None:
    kubeconfig, state = tmp_path / "kubeconfig", tmp_path / "state.json"
    first = SimulatorProcess.start(kubeconfig, state_file=state)
    first.admin("POST", "/_sim/config", {"start_delay": 0})
    survivor = {"metadata": {"name": "survivor"}, "spec": {"ports": [{"port": 80}]}}
    api_client = api_for(kubeconfig)
    try:
        created = core_api(api_client).create_namespaced_service(NAMESPACE, survivor)
    finally:
        api_client.close()
    first.admin("POST", "/_sim/save", {})
    first.kill()
    second = SimulatorProcess.start(kubeconfig, state_file=state)
    try:
        api_client = api_for(kubeconfig)
        try:
            read = core_api(api_client).read_namespaced_service("survivor", NAMESPACE)
            assert read.metadata.uid == created.metadata.uid
        finally:
            api_client.close()
    finally:
        second.stop()
