"""Offline validation of infra/: Helm's own engine renders the chart, Kubernetes' published schemas (shipped
inside the kubernetes-validate wheel) and a KubeRay schema check what it renders, the compose spec schema
(vendored by check-jsonschema) checks the compose files, hadolint and our rules check the Dockerfiles.
Nothing here talks to a cluster, a registry or a Docker engine."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHART = INFRA / "helm" / "sharelm"
KUBERAY_SCHEMA = Path(__file__).parent / "schemas" / "kuberay-ray.io-v1.json"
# The chart's kubeVersion floor and the newest release kubernetes-validate ships schemas for.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
RAY_KINDS = {"RayCluster", "RayJob"}


@cache
def _k8s_registry(version: str) -> tuple[Path, Registry]:
    """The strict (closed-object) schemas of one Kubernetes release, with their shared definitions."""
    schemas = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    folder = Path(str(schemas / f"v{version}-local-strict"))
    defs = json.loads((folder / "_definitions.json").read_text())
    return folder, Resource.from_contents(defs) @ Registry()


@cache
def _k8s_validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    folder, registry = _k8s_registry(version)
    # kubernetes-validate's file names: apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1, v1 -> v1.
    group, _, version_part = api_version.rpartition("/")
    suffix = f"{group.split('.')[0]}-{version_part}" if group else version_part
    path = folder / f"{kind.lower()}-{suffix}.json"
    if not path.exists():
        raise LookupError(f"no Kubernetes {version} schema for {api_version} {kind}")
    return jsonschema.Draft202012Validator(json.loads(path.read_text()), registry=registry)


@cache
def _kuberay_validator(kind: str, version: str) -> jsonschema.protocols.Validator:
    _, registry = _k8s_registry(version)
    schema = json.loads(KUBERAY_SCHEMA.read_text())
    registry = Resource.from_contents(schema) @ registry
    entry = {"$ref": f"urn:sharelm:kuberay:ray.io-v1#/$defs/{kind}"}
    return jsonschema.Draft202012Validator(entry, registry=registry)


def schema_errors(doc: dict[str, Any], version: str = KUBE_VERSIONS[-1]) -> list[str]:
    """Every schema violation of one manifest, as 'path: message' lines (empty: valid)."""
    kind, api_version = doc.get("kind", ""), doc.get("apiVersion", "")
    if kind in RAY_KINDS:
        validator = _kuberay_validator(kind, version)
    else:
        validator = _k8s_validator(version, kind, api_version)
    return [
        f"{kind}/{doc.get('metadata', {}).get('name')}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(doc)
    ]


def render(values: dict[str, Any] | None = None, *, release: str = "sharelm", namespace: str = "sharelm"):
    """Render the chart with Helm's engine (values.schema.json checked), as {template path: [documents]}."""
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=release, namespace=namespace, is_install=True)
    out: dict[str, list[dict[str, Any]]] = {}
    for path, text in rendered.items():
        if not path.endswith(".yaml"):
            continue
        docs = [d for d in yaml.safe_load_all(text) if d]
        if docs:
            out[path.removeprefix(f"{CHART.name}/templates/")] = docs
    return out


def manifests(values: dict[str, Any] | None = None, **kw) -> list[dict[str, Any]]:
    return [doc for docs in render(values, **kw).values() for doc in docs]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs inside a workload (Deployment, StatefulSet, Job, CronJob, RayCluster, RayJob)."""
    spec = doc.get("spec", {})
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "Job"):
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if kind == "RayJob":
        spec = spec.get("rayClusterSpec")
        if spec is None:
            return []
    if kind in RAY_KINDS:
        groups = [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]
        return [g["template"]["spec"] for g in groups]
    return []


@pytest.fixture(scope="session")
def infra() -> SimpleNamespace:
    """The helpers above, for the test modules (pytest's importlib mode does not let them import conftest)."""
    return SimpleNamespace(
        ROOT=ROOT,
        INFRA=INFRA,
        CHART=CHART,
        KUBE_VERSIONS=KUBE_VERSIONS,
        render=render,
        manifests=manifests,
        schema_errors=schema_errors,
        by_kind=by_kind,
        pod_specs=pod_specs,
    )
