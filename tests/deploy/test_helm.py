"""The Helm chart (deploy/helm/genesys-pulse): the real ``helm lint`` / ``helm template``,
every rendered manifest validated against the Kubernetes schemas, and a fleet of three
local ``genesys-pulse run`` processes started exactly as the rendered pods would be.

Kubernetes version: manifests are validated against the OpenAPI schemas of
Kubernetes :data:`KUBE_VERSION` (strict: unknown fields are errors) shipped by
``kubernetes-validate``. 1.32 is the first release where the
``apps.kubernetes.io/pod-index`` label the shard index comes from is GA.

``helm`` is built from Go modules by ``make helm`` (deploy/helm/build-helm.sh)
into deploy/helm/_build/bin; ``GENESYS_PULSE_HELM_BINARY`` points elsewhere.
Missing: skip locally, fail in CI (``CI=true``).

The fleet test emulates what the kubelet does with the rendered StatefulSet
for pods 0, 1, 2 -- downward-API fields (the pod-index label, the pod name),
``secretKeyRef`` from the rendered Secrets, ``$(VAR)`` expansion of earlier
variables, the ConfigMap mounted as files -- with two substitutions a single
machine forces, both asserted: the mount path becomes a per-pod temporary
directory, and the health endpoint's ``0.0.0.0:PORT`` (every pod has its own
network namespace) becomes a free loopback port per instance. The three
processes export OTLP to the real collector; every target must be reported by
exactly one instance, the one its shard hash names.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from _emulator import cli_emulator
from collector._collector import COLLECTOR_DIR, free_loopback_ports, in_ci, running_collector
from collector._otlp_json import ReceivedTelemetry, attributes, poll_until
from genesys_pulse.core import shard_of

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "genesys-pulse"
DEFAULT_HELM = REPO / "deploy" / "helm" / "_build" / "bin" / "helm"
KUBE_VERSION = "1.32.0"
WAIT = 90.0


@pytest.fixture(scope="session")
def helm() -> str:
    binary = Path(os.environ.get("GENESYS_PULSE_HELM_BINARY", str(DEFAULT_HELM)))
    if binary.is_file() and os.access(binary, os.X_OK):
        return str(binary)
    reason = f"helm not found at {binary}: build it with `make helm` (Go modules, minutes)"
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def run_helm(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [helm, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def render(
    helm: str, tmp_path: Path, values: dict[str, Any] | None = None, *, name: str = "pulse"
) -> list[dict[str, Any]]:
    args = ["template", name, str(CHART), "--kube-version", KUBE_VERSION]
    if values is not None:
        vfile = tmp_path / f"values-{len(list(tmp_path.glob('values-*')))}.yaml"
        vfile.write_text(yaml.safe_dump(values))
        args += ["--values", str(vfile)]
    out = run_helm(helm, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


ORGS = [
    {
        "name": "acme",
        "clientIdEnv": "ACME_CLIENT_ID",
        "clientSecretEnv": "ACME_CLIENT_SECRET",
        "existingSecret": "",
        "clientId": "acme-id",
        "clientSecret": "acme-secret-value",
    },
    {
        "name": "globex",
        "clientIdEnv": "GLOBEX_CLIENT_ID",
        "clientSecretEnv": "GLOBEX_CLIENT_SECRET",
        "existingSecret": "",
        "clientId": "globex-id",
        "clientSecret": "globex-secret-value",
    },
]


def test_helm_lint(helm: str, tmp_path: Path) -> None:
    run_helm(helm, "lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION)
    vfile = tmp_path / "values.yaml"
    vfile.write_text(
        yaml.safe_dump({"shards": 3, "organisations": ORGS, "collector": {"enabled": True}})
    )
    run_helm(
        helm, "lint", "--strict", str(CHART), "--values", str(vfile), "--kube-version", KUBE_VERSION
    )


COLLECTOR_CONFIGS = ["datadog-agent", "datadog", "honeycomb", "local", "newrelic", "prometheus"]


@pytest.mark.parametrize("collector_config", COLLECTOR_CONFIGS)
def test_rendered_manifests_are_valid_kubernetes(
    helm: str, tmp_path: Path, collector_config: str
) -> None:
    docs = render(
        helm,
        tmp_path,
        {
            "shards": 3,
            "organisations": ORGS,
            "collector": {
                "enabled": True,
                "config": collector_config,
                "envFromSecret": "vendor-keys",
            },
        },
    )
    validate(docs)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "Secret",
            "Secret",
            "Service",
            "Service",
            "ServiceAccount",
            "StatefulSet",
        ]
    ), kinds
    (sts,) = of_kind(docs, "StatefulSet")
    assert sts["spec"]["replicas"] == 3
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["runAsNonRoot"] is True
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "limits" in container["resources"] and "cpu" not in container["resources"]["limits"]
    env = {e["name"]: e for e in container["env"]}
    assert env["GENESYS_PULSE_SHARD"]["value"] == "$(POD_INDEX)/3"
    assert (
        env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
        == "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    assert (
        env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://pulse-genesys-pulse-collector:4318"
    )
    # the collector gateway runs exactly the project's config file
    (collector_cm,) = [c for c in of_kind(docs, "ConfigMap") if "collector.yaml" in c["data"]]
    assert collector_cm["data"]["collector.yaml"].strip() == (
        (COLLECTOR_DIR / f"{collector_config}.yaml").read_text().strip()
    )
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_default_values_render_valid_manifests(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    validate(docs)
    assert not of_kind(docs, "Secret")  # the default organisation names an existing Secret
    assert not of_kind(docs, "Deployment")


def test_schema_validation_catches_a_broken_manifest(helm: str, tmp_path: Path) -> None:
    """The validation above can fail: a misspelt field is rejected."""
    (sts,) = of_kind(render(helm, tmp_path), "StatefulSet")
    sts["spec"]["replica"] = sts["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"shards": 0}, "shards"),
        ({"shards": 2000}, "shards"),
        ({"organisations": [{**ORGS[0], "name": "Bad_Name"}]}, "name"),
        ({"organisations": [{**ORGS[0], "clientSecretEnv": "1BAD"}]}, "clientSecretEnv"),
        ({"collector": {"enabled": True, "config": "nonsense"}}, "config"),
        ({"sharding": 3}, "sharding"),
        ({"organisations": [{**ORGS[0], "clientSecret": ""}]}, "clientSecret is required"),
    ],
)
def test_bad_values_are_refused(
    helm: str, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    vfile = tmp_path / "bad.yaml"
    vfile.write_text(yaml.safe_dump(values))
    done = run_helm(
        helm,
        "template",
        "x",
        str(CHART),
        "--values",
        str(vfile),
        "--kube-version",
        KUBE_VERSION,
        check=False,
    )
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_chart_collector_configs_match_the_project_configs() -> None:
    """The chart carries copies of otel-collector/*.yaml (Helm reads files inside the chart only)."""
    copies = sorted((CHART / "files" / "collector").glob("*.yaml"))
    project = sorted(
        p.name for p in COLLECTOR_DIR.glob("*.yaml") if p.name != "builder-config.yaml"
    )
    assert [p.name for p in copies] == project
    assert project == sorted(f"{name}.yaml" for name in COLLECTOR_CONFIGS)
    for copy in copies:
        assert copy.read_text() == (COLLECTOR_DIR / copy.name).read_text(), (
            f"{copy} differs from otel-collector/{copy.name}: cp otel-collector/{copy.name} {copy}"
        )


# -- the fleet ----------------------------------------------------------------

_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


def expand(value: str, defined: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: earlier variables only; ``$$`` escapes; unknown kept."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return defined.get(m.group(1), m.group(0))

    return _REF.sub(sub, value)


def pod_environment(
    container: dict[str, Any],
    *,
    pod_name: str,
    pod_labels: dict[str, str],
    secrets: dict[str, dict[str, str]],
) -> dict[str, str]:
    """The environment the kubelet gives ``container`` in the pod ``pod_name``."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            m = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
            if m:
                env[name] = pod_labels[m.group(1)]
            elif path == "metadata.name":
                env[name] = pod_name
            else:
                raise AssertionError(f"fieldRef {path} not emulated")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[name] = secrets[ref["name"]][ref["key"]]
        else:
            raise AssertionError(f"env source {source} not emulated")
    return env


def container_command(
    podman: list[str],
    pod_spec: dict[str, Any],
    container: dict[str, Any],
    mounts: dict[str, str],
    env: dict[str, str],
    *,
    name: str,
) -> list[str]:
    """``podman run`` of ``container`` as the kubelet would run it (see the fleet test)."""
    from .conftest import IMAGE, RUN_LIMITS

    ctx = container["securityContext"]
    pod_ctx = pod_spec["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["capabilities"]["drop"] == ["ALL"]
    cmd = [*podman, "run", "--rm", "--name", name, "--network", "host", *RUN_LIMITS]
    cmd += ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    cmd += ["--user", f"{pod_ctx['runAsUser']}:{pod_ctx['runAsGroup']}"]
    for mount in container["volumeMounts"]:
        if mount["mountPath"] == "/tmp":
            cmd += ["--tmpfs", "/tmp"]  # the emptyDir
        else:
            ro = ":ro" if mount.get("readOnly") else ""
            cmd += ["--volume", f"{mounts[mount['mountPath']]}:{mount['mountPath']}{ro}"]
    for key in env:
        cmd += ["--env", key]  # the value comes from podman's environment, not argv
    cmd += ["--entrypoint", container["command"][0], IMAGE, *container["args"]]
    return cmd


@pytest.fixture
def emulator() -> Iterator[dict[str, str]]:
    with cli_emulator() as info:
        yield info


@pytest.mark.collector
@pytest.mark.parametrize("runner", ["process", "image"])
def test_three_rendered_pods_share_the_targets(
    helm: str,
    collector_binary: Path,
    emulator: dict[str, str],
    tmp_path: Path,
    runner: str,
    request: pytest.FixtureRequest,
) -> None:
    """Three pods of the rendered StatefulSet, as local processes or as containers of the image.

    ``image``: each pod runs in ``localhost/genesys-pulse`` (``make image``) with podman,
    with the pod's command, user, read-only root filesystem, dropped capabilities,
    ``/tmp`` as the ``emptyDir`` and the ConfigMap mounted at its mount path -- so
    only the health port differs from the pod (host network instead of one network
    namespace per pod).
    """
    podman: list[str] | None = request.getfixturevalue("podman") if runner == "image" else None
    target_ids = [f"org-{org['name']}-{i:02d}" for org in ORGS for i in range(6)]
    toml = ['window = "60s"']
    for tid in target_ids:
        org = next(o for o in ORGS if tid.startswith(f"org-{o['name']}-"))
        toml += [
            "[[targets]]",
            f'id = "{tid}"',
            'kind = "genesys"',
            f'api_url = "{emulator["api_url"]}"',
            f'login_url = "{emulator["login_url"]}"',
            f'client_id_env = "{org["clientIdEnv"]}"',
            f'client_secret_env = "{org["clientSecretEnv"]}"',
            "interval = 0.5",
            "timeout = 0.5",
        ]
    orgs = [
        {**o, "clientId": emulator["client_id"], "clientSecret": emulator["client_secret"]}
        for o in ORGS
    ]
    with running_collector(
        collector_binary, COLLECTOR_DIR / "local.yaml", tmp_path, name="gateway"
    ) as collector:
        docs = render(
            helm,
            tmp_path,
            {
                "shards": 3,
                "config": "\n".join(toml) + "\n",
                "organisations": orgs,
                "otlpEndpoint": collector.otlp_http_endpoint,
                "extraEnv": [{"name": "OTEL_METRIC_EXPORT_INTERVAL", "value": "1000"}],
            },
        )
        validate(docs)
        (sts,) = of_kind(docs, "StatefulSet")
        replicas = sts["spec"]["replicas"]
        assert replicas == 3
        pod_spec = sts["spec"]["template"]["spec"]
        (container,) = pod_spec["containers"]
        secrets = {s["metadata"]["name"]: s["stringData"] for s in of_kind(docs, "Secret")}
        configmaps = {c["metadata"]["name"]: c["data"] for c in of_kind(docs, "ConfigMap")}
        volumes = {v["name"]: v for v in pod_spec["volumes"]}
        health_port = container["ports"][0]["containerPort"]
        ready_path = container["readinessProbe"]["httpGet"]["path"]

        local_ports = free_loopback_ports(replicas)
        procs: list[subprocess.Popen[bytes]] = []
        pods: list[str] = []
        try:
            for i in range(replicas):
                pod_name = f"{sts['metadata']['name']}-{i}"
                pods.append(pod_name)
                root = tmp_path / pod_name
                mounts: dict[str, str] = {}
                for mount in container["volumeMounts"]:
                    local = root / mount["mountPath"].lstrip("/")
                    local.mkdir(parents=True)
                    volume = volumes[mount["name"]]
                    if "configMap" in volume:
                        for key, text in configmaps[volume["configMap"]["name"]].items():
                            (local / key).write_text(text)
                    mounts[mount["mountPath"]] = str(local)
                env = pod_environment(
                    container,
                    pod_name=pod_name,
                    pod_labels={
                        **sts["spec"]["template"]["metadata"]["labels"],
                        "apps.kubernetes.io/pod-index": str(i),
                    },
                    secrets=secrets,
                )
                assert env["GENESYS_PULSE_SHARD"] == f"{i}/3"
                # the pod's own network namespace -> a loopback port of this machine
                assert env["GENESYS_PULSE_HEALTH_LISTEN"] == f"0.0.0.0:{health_port}"
                env["GENESYS_PULSE_HEALTH_LISTEN"] = f"127.0.0.1:{local_ports[i]}"
                command = [*container["command"], *container["args"]]
                assert command[0] == "/opt/genesys-pulse/bin/genesys-pulse"
                if podman is None:
                    # a process: mounted paths live under this pod's directory
                    for name, value in env.items():
                        for mount_path, local in mounts.items():
                            if value.startswith(mount_path + "/"):
                                env[name] = local + value[len(mount_path) :]
                    assert Path(env["GENESYS_PULSE_CONFIG"]).is_file()
                    command[0] = str(Path(sys.executable).parent / "genesys-pulse")
                    child_env = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
                else:
                    command = container_command(
                        podman, pod_spec, container, mounts, env, name=f"{pod_name}-{os.getpid()}"
                    )
                    child_env = {**os.environ, **env}  # podman passes each -e NAME from here
                with (root / "stderr.log").open("wb") as log:
                    procs.append(
                        subprocess.Popen(
                            command,
                            env=child_env,
                            stdout=subprocess.DEVNULL,
                            stderr=log,  # the child keeps its own copy of the descriptor
                            cwd=root,
                        )
                    )

            # the kubelet's readiness probe, on each instance
            for i, port in enumerate(local_ports):
                deadline = time.monotonic() + WAIT * (2 if podman else 1)
                while True:
                    assert procs[i].poll() is None, (tmp_path / pods[i] / "stderr.log").read_text()
                    try:
                        r = httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=5.0)
                        if r.status_code == 200:
                            assert r.json()["shard"] == f"{i}/3"
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, f"{pods[i]} never ready"
                    time.sleep(0.3)

            def reported(got: ReceivedTelemetry) -> dict[str, set[str]]:
                who: dict[str, set[str]] = {}
                for metric in got.metric("genesys.websocket.pings"):
                    instance = metric.resource.get("service.instance.id", "?")
                    for point in metric.body["sum"]["dataPoints"]:
                        target = attributes(point.get("attributes")).get("genesys.monitor.target")
                        who.setdefault(str(target), set()).add(str(instance))
                return who

            def check(got: ReceivedTelemetry) -> None:
                who = reported(got)
                assert set(who) >= set(target_ids), sorted(set(target_ids) - set(who))

            got = poll_until(
                collector.output_file,
                check,
                timeout=WAIT,
                sleep=time.sleep,
                monotonic=time.monotonic,
            )
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:  # pragma: no cover - diagnostic path
                    proc.kill()
                    proc.wait()

    who = reported(got)
    assert set(who) == set(target_ids), sorted(who)
    for tid in target_ids:
        assert who[tid] == {pods[shard_of(tid, 3)]}, (tid, who[tid])
    assert {next(iter(v)) for v in who.values()} == set(pods)  # every shard has targets
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
