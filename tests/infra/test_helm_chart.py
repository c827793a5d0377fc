"""The Helm chart (infra/helm/sharelm), rendered by Helm's own engine and checked against Kubernetes' schemas
(every supported release's floor and the newest) and the KubeRay CRD fields."""

from __future__ import annotations

import copy
import re

import pytest

PG = {"postgresql": {"auth": {"secretName": "sharelm-postgresql"}}}
EXTERNAL_DB = {
    "postgresql": {"enabled": False},
    "collector": {"externalDatabase": {"secretName": "sharelm-db"}},
}

# Value sets an operator would install with; each must render into schema-valid manifests.
SCENARIOS = {
    "in-chart-postgresql": PG,
    "external-db-hpa-backup": {
        **EXTERNAL_DB,
        "collector": {
            "externalDatabase": {"secretName": "sharelm-db"},
            "operatorToken": {"secretName": "sharelm-operator"},
            "autoscaling": {"enabled": True},
            "settings": {"RATE_LIMIT_PER_IP": 600},
            "backup": {
                "enabled": True,
                "external": {"host": "db.internal", "passwordSecretName": "sharelm-db"},
            },
        },
        "chat": {"enabled": False},
    },
    "chat-hub-cpu": {
        **PG,
        "chat": {"gpu": {"enabled": False}, "model": {"source": "hub", "id": "org/sharedllm-1b"}},
    },
    "chat-pvc-gpu-contribute": {
        **PG,
        "collector": {"backup": {"enabled": True}},
        "chat": {
            "model": {
                "source": "pvc",
                "pvc": {"existingClaim": "checkpoints", "subPath": "sharedllm-7b"},
                "hubTokenSecret": {"name": "hf"},
            },
            "contribute": {"enabled": True, "tokenSecret": {"name": "sharelm-chat-contributor"}},
            "gpu": {"count": 2},
        },
    },
    "crosslm-long-lived-cluster": {
        **PG,
        "crosslm": {
            "enabled": True,
            "storage": {"existingClaim": "crosslm-data"},
            "head": {"gpu": 1},
            "hubTokenSecret": {"name": "hf"},
        },
    },
    "crosslm-own-cluster": {
        **PG,
        "crosslm": {
            "enabled": True,
            "cluster": {"enabled": False},
            "storage": {"existingClaim": "crosslm-data"},
            "workers": {"gpu": 1},
            "job": {"runId": "2026-11-26", "extraArgs": ["--resume"]},
        },
    },
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_rendered_manifest_is_schema_valid(infra, scenario):
    docs = infra.manifests(SCENARIOS[scenario])
    assert docs
    for version in infra.KUBE_VERSIONS:
        errors = [e for doc in docs for e in infra.schema_errors(doc, version)]
        assert not errors, f"Kubernetes {version}:\n" + "\n".join(errors)


def test_helm_lint_is_clean(infra):
    import helm_python as helm

    for values in (PG, EXTERNAL_DB, SCENARIOS["crosslm-own-cluster"]):
        report = helm.lint(infra.CHART, values, strict=True, kube_version="v1.30.0")
        assert not report["errors"], report
        assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_validators_reject_broken_manifests(infra):
    """The checks above can fail: typos and wrong types in built-in kinds and in KubeRay kinds are caught."""
    docs = infra.manifests(SCENARIOS["crosslm-long-lived-cluster"])
    deployment = copy.deepcopy(infra.by_kind(docs, "Deployment")["sharelm-collector"])
    deployment["spec"]["replicas"] = "two"
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    errors = infra.schema_errors(deployment)
    assert any("spec.replicas" in e for e in errors) and any("'paht' was unexpected" in e for e in errors)

    job = copy.deepcopy(next(iter(infra.by_kind(docs, "RayJob").values())))
    job["spec"]["entrypont"] = job["spec"].pop("entrypoint")
    assert any("'entrypont' was unexpected" in e for e in infra.schema_errors(job))

    cluster = copy.deepcopy(infra.by_kind(docs, "RayCluster")["sharelm-ray"])
    cluster["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"] = "4"
    assert any("resources.limits" in e for e in infra.schema_errors(cluster))

    with pytest.raises(LookupError):
        infra.schema_errors({"apiVersion": "apps/v9", "kind": "Deployment", "metadata": {"name": "x"}})


def test_values_schema_rejects_bad_values_with_the_key(infra):
    from helm_python import HelmValuesError

    with pytest.raises(HelmValuesError, match="chat/model/source"):
        infra.render({**PG, "chat": {"model": {"source": "s3"}}})
    with pytest.raises(HelmValuesError, match="colector"):
        infra.render({**PG, "colector": {"replicaCount": 3}})
    with pytest.raises(HelmValuesError, match="collector/workers"):
        infra.render({**PG, "collector": {"workers": 0}})


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, "postgresql.auth.secretName"),
        ({"postgresql": {"enabled": False}}, "collector.externalDatabase.secretName"),
        ({**PG, "chat": {"model": {"source": "hub"}}}, "chat.model.id"),
        ({**PG, "chat": {"model": {"source": "pvc"}}}, "chat.model.pvc.existingClaim"),
        ({**PG, "chat": {"contribute": {"enabled": True}}}, "chat.contribute.tokenSecret.name"),
        ({**PG, "crosslm": {"enabled": True}}, "crosslm.storage.existingClaim"),
    ],
)
def test_missing_required_references_fail_naming_the_value(infra, values, missing):
    from helm_python import HelmError

    with pytest.raises(HelmError, match=re.escape(missing)):
        infra.render(values)


SECRETISH = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL", re.IGNORECASE)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_secrets_are_references_only(infra, scenario):
    """No Secret objects, no secret values: every secret-looking variable comes from a secretKeyRef (the URL
    built for the in-chart database only splices in the referenced password)."""
    docs = infra.manifests(SCENARIOS[scenario])
    assert not [d for d in docs if d["kind"] == "Secret"]
    for doc in docs:
        for pod in infra.pod_specs(doc):
            for container in pod["containers"] + pod.get("initContainers", []):
                for env in container.get("env", []):
                    if not SECRETISH.search(env["name"]):
                        continue
                    if "value" in env:
                        assert env["name"] == "DATABASE_URL", env
                        assert re.fullmatch(
                            r"postgresql://\w+:\$\(POSTGRES_PASSWORD\)@[\w.-]+:5432/\w+", env["value"]
                        )
                    else:
                        assert set(env["valueFrom"]) == {"secretKeyRef"}, env


def _container(doc, name):
    return next(c for pod in _pods(doc) for c in pod["containers"] if c["name"] == name)


def _pods(doc):
    spec = doc["spec"]
    return [
        spec["jobTemplate"]["spec"]["template"]["spec"]
        if doc["kind"] == "CronJob"
        else spec["template"]["spec"]
    ]


def _env(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize(
    ("values", "hook"), [(PG, "post-install,pre-upgrade"), (EXTERNAL_DB, "pre-install,pre-upgrade")]
)
def test_migrations_run_as_a_hook_job_on_the_same_database(infra, values, hook):
    docs = infra.manifests(values)
    job = infra.by_kind(docs, "Job")["sharelm-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == hook
    assert _container(job, "migrate")["args"] == ["migrate"]
    collector = _container(infra.by_kind(docs, "Deployment")["sharelm-collector"], "collector")
    # The replicas never migrate themselves, and talk to exactly the database the Job migrated.
    assert collector["args"][0] == "serve" and "--no-migrate" in collector["args"]
    assert _env(collector)["DATABASE_URL"] == _env(_container(job, "migrate"))["DATABASE_URL"]
    assert collector["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert collector["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_in_chart_postgresql_is_what_the_collector_talks_to(infra):
    docs = infra.manifests(PG)
    url = _env(_container(infra.by_kind(docs, "Deployment")["sharelm-collector"], "collector"))[
        "DATABASE_URL"
    ]
    host = re.match(r"postgresql://\w+:\$\(POSTGRES_PASSWORD\)@([\w-]+):5432/sharelm", url).group(1)
    service = infra.by_kind(docs, "Service")[host]
    statefulset = infra.by_kind(docs, "StatefulSet")["sharelm-postgresql"]
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert statefulset["spec"]["serviceName"] in infra.by_kind(docs, "Service")
    # Without the in-chart server nothing of it renders.
    assert not [d for d in infra.manifests(EXTERNAL_DB) if "postgresql" in d["metadata"]["name"]]


def test_services_select_their_pods_and_probes_name_real_ports(infra):
    docs = infra.manifests(SCENARIOS["chat-pvc-gpu-contribute"])
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    for service in infra.by_kind(docs, "Service").values():
        selected = [
            w
            for w in workloads
            if service["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        ports = {p["name"] for c in selected[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            names = {p["name"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if "httpGet" in container.get(probe, {}):
                    assert container[probe]["httpGet"]["port"] in names


def test_chat_on_gpu_nodes_ready_once_the_model_is_loaded(infra):
    docs = infra.manifests(SCENARIOS["chat-pvc-gpu-contribute"])
    deployment = infra.by_kind(docs, "Deployment")["sharelm-chat"]
    pod = deployment["spec"]["template"]["spec"]
    chat = _container(deployment, "chat")
    assert chat["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    env = _env(chat)
    assert env["SHAREDLLM_CHAT_DEVICE"] == "cuda"
    assert env["SHAREDLLM_CHAT_MODEL_PATH"] == "/models/checkpoint"
    assert env["SHAREDLLM_CHAT_COLLECTOR_URL"] == "http://sharelm-collector:80"
    assert env["SHAREDLLM_CHAT_COLLECTOR_TOKEN"]["secretKeyRef"]["name"] == "sharelm-chat-contributor"
    mount = next(m for m in chat["volumeMounts"] if m["mountPath"] == "/models/checkpoint")
    assert mount["readOnly"] and mount["subPath"] == "sharedllm-7b"
    # The server accepts connections only after loading the model: /healthz is the load signal, and the
    # startup probe gives a large checkpoint its time before liveness counts.
    assert chat["readinessProbe"]["httpGet"]["path"] == "/healthz"
    startup = chat["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600

    cpu = infra.by_kind(infra.manifests(SCENARIOS["chat-hub-cpu"]), "Deployment")["sharelm-chat"]
    cpu_chat = _container(cpu, "chat")
    assert "nvidia.com/gpu" not in cpu_chat["resources"]["limits"]
    assert "nodeSelector" not in cpu["spec"]["template"]["spec"]
    assert _env(cpu_chat)["SHAREDLLM_CHAT_MODEL_PATH"] == "org/sharedllm-1b"
    assert _env(cpu_chat)["SHAREDLLM_CHAT_DEVICE"] == "cpu"


def test_chat_settings_match_the_service_settings(infra):
    """Every SHAREDLLM_CHAT_* variable the chart sets is a field of the chat service's Settings."""
    settings = pytest.importorskip("sharedllm_chat.settings")
    fields = {f"SHAREDLLM_CHAT_{name.upper()}" for name in settings.Settings.model_fields}
    for scenario in ("chat-hub-cpu", "chat-pvc-gpu-contribute"):
        chat = _container(
            infra.by_kind(infra.manifests(SCENARIOS[scenario]), "Deployment")["sharelm-chat"], "chat"
        )
        used = {n for n in _env(chat) if n.startswith("SHAREDLLM_CHAT_")}
        assert used <= fields, used - fields


def test_collector_settings_match_the_service_settings(infra):
    config = pytest.importorskip("sharelm_collector.core.config")
    fields = {f"SHARELM_COLLECTOR_{name.upper()}" for name in config.Settings.model_fields}
    docs = infra.manifests(SCENARIOS["external-db-hpa-backup"])
    collector = _container(infra.by_kind(docs, "Deployment")["sharelm-collector"], "collector")
    used = {n for n in _env(collector) if n.startswith("SHARELM_COLLECTOR_")}
    assert used and used <= fields, used - fields
    assert {"DATABASE_URL", "SHARELM_OPERATOR_TOKEN"} <= set(_env(collector))


def test_backup_cronjob_dumps_the_release_database(infra):
    docs = infra.manifests(SCENARIOS["chat-pvc-gpu-contribute"])
    cron = infra.by_kind(docs, "CronJob")["sharelm-backup"]
    dump = _container(cron, "pg-dump")
    assert "pg_dump --format=custom" in dump["args"][0]
    env = _env(dump)
    assert env["PGHOST"] == "sharelm-postgresql"
    assert env["PGPASSWORD"]["secretKeyRef"]["name"] == "sharelm-postgresql"
    claim = _pods(cron)[0]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    pvc = infra.by_kind(docs, "PersistentVolumeClaim")[claim]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def _crosslm(infra, scenario):
    docs = infra.manifests(SCENARIOS[scenario])
    (job,) = infra.by_kind(docs, "RayJob").values()
    (config_map,) = infra.by_kind(docs, "ConfigMap").values()
    return docs, job, config_map


def test_rayjob_runs_crosslm_on_the_release_raycluster(infra):
    docs, job, config_map = _crosslm(infra, "crosslm-long-lived-cluster")
    cluster = infra.by_kind(docs, "RayCluster")
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": "sharelm-ray"} and "sharelm-ray" in cluster
    assert "rayClusterSpec" not in job["spec"]
    command = job["spec"]["entrypoint"].split()
    assert command[:2] == ["crosslm", "run"]
    config_file = command[2]
    # The file the entrypoint names is the ConfigMap key, mounted on the head where the driver runs.
    head = cluster["sharelm-ray"]["spec"]["headGroupSpec"]["template"]["spec"]
    mount = next(m for m in head["containers"][0]["volumeMounts"] if m["name"] == "run-config")
    volume = next(v for v in head["volumes"] if v["name"] == "run-config")
    assert config_file == f"{mount['mountPath']}/{next(iter(config_map['data']))}"
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert head["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert head["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert _env(head["containers"][0])["HF_TOKEN"]["secretKeyRef"]["name"] == "hf"


def test_rayjob_with_its_own_cluster_is_deleted_after_the_run(infra):
    docs, job, _ = _crosslm(infra, "crosslm-own-cluster")
    assert not infra.by_kind(docs, "RayCluster")
    assert job["metadata"]["name"] == "sharelm-crosslm-2026-11-26"
    assert job["spec"]["shutdownAfterJobFinishes"] is True and "clusterSelector" not in job["spec"]
    assert job["spec"]["entrypoint"].endswith("--resume")
    workers = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert workers["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert workers["minReplicas"] <= workers["replicas"] <= workers["maxReplicas"]


def test_crosslm_run_config_is_one_crosslm_accepts(infra, tmp_path):
    """The entrypoint is a command line `crosslm run` accepts, and the config file is one CrossLM loads as its
    CLI does (its TOML reader over its defaults, its RunConfig validation: no typo survives)."""
    _, job, config_map = _crosslm(infra, "crosslm-long-lived-cluster")
    cli = pytest.importorskip("crosslm.cli")
    from typer.testing import CliRunner

    from crosslm.config import ConfigError, RunConfig
    from crosslm.runner import default_config, load_config_file

    command = job["spec"]["entrypoint"].split()
    help_text = CliRunner().invoke(cli.app, ["run", "--help"]).output
    for option in (a for a in command if a.startswith("--")):
        assert option in help_text, option
    ((name, text),) = config_map["data"].items()
    (tmp_path / name).write_text(text)
    config = RunConfig.from_mapping(default_config() | load_config_file(tmp_path / name))
    config.require_models()
    assert config.data_path.startswith("/data/") and config.out_dir.startswith("/data/")
    assert int(command[command.index("--clients") + 1]) >= config.min_clients
    (tmp_path / "typo.toml").write_text(text + "num-round = 3\n")
    with pytest.raises(ConfigError, match="num-round"):
        RunConfig.from_mapping(default_config() | load_config_file(tmp_path / "typo.toml"))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_pods_run_unprivileged_on_pinned_images(infra, scenario):
    for doc in infra.manifests(SCENARIOS[scenario]):
        for pod in infra.pod_specs(doc):
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod.get("automountServiceAccountToken") is False
            for container in pod["containers"]:
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                name, _, tag = container["image"].rpartition(":")
                assert name and re.match(r"\d+\.\d+", tag), container["image"]
