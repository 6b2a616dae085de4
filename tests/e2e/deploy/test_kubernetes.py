"""deploy/kubernetes: the kustomize base renders (by a small renderer of the kustomize
features it uses, and by ``kubectl kustomize`` too when kubectl is installed), every object
validates against the Kubernetes schemas (``kubernetes-validate``, offline, strict), and the
objects fit together: probes on /healthz and /readyz, the Service, HPA and PDB select the
Deployment, Redis keeps an AOF on a volume, and the policies ConfigMap is the shipped
``policies/`` byte for byte.

Regenerate the ConfigMap after editing ``policies/``:
``uv run python tests/e2e/deploy/test_kubernetes.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "deploy" / "kubernetes" / "base"
POLICIES = ROOT / "policies"
K8S_VERSION = "1.30.0"
CONFIGMAP_HEADER = (
    "# Generated from policies/ by `uv run python tests/e2e/deploy/test_kubernetes.py`; a test\n"
    "# fails when the two differ. In a cluster, replace it with your own policies.\n"
)


def render(base: Path) -> list[dict[str, Any]]:
    """The kustomize features this base uses: resources, labels (without selectors), images."""
    kust = yaml.safe_load((base / "kustomization.yaml").read_text())
    unknown = set(kust) - {"apiVersion", "kind", "resources", "labels", "images", "namespace"}
    assert not unknown, f"the renderer does not know {unknown}: teach it or use kubectl"
    docs: list[dict[str, Any]] = []
    for name in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((base / name).read_text()) if d]
    pairs: dict[str, str] = {}
    for entry in kust.get("labels", []):
        assert not entry.get("includeSelectors"), "selector labels are not rendered here"
        pairs.update(entry["pairs"])
    images = {i["name"]: i for i in kust.get("images", [])}
    for doc in docs:
        doc["metadata"].setdefault("labels", {}).update(pairs)
        if "namespace" in kust:
            doc["metadata"]["namespace"] = kust["namespace"]
        for container in _containers(doc):
            image = images.get(container["image"].split(":")[0])
            if image:
                container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return docs


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers", []))


def configmap_text() -> str:
    data = {p.name: p.read_text() for p in sorted(POLICIES.glob("*.yaml"))}
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "router-policies"},
        "data": data,
    }
    return CONFIGMAP_HEADER + yaml.safe_dump(body, sort_keys=False, width=100)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(BASE)


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_every_object_validates_against_the_kubernetes_schemas(
    docs: list[dict[str, Any]],
) -> None:
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
            "Service",
            "StatefulSet",
        ]
    )
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_a_broken_object_fails_validation(docs: list[dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(_one(docs, "Deployment", "router")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(_one(docs, "Service", "router")))
    broken["spec"]["portz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_objects_fit_together(docs: list[dict[str, Any]]) -> None:
    dep = _one(docs, "Deployment", "router")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    (router,) = _containers(dep)
    assert router["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert router["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert router["image"] == "router:local"
    env = {e["name"]: e.get("value") for e in router["env"]}
    assert env["REDIS_URL"] == "redis://router-redis:6379/0"
    assert router["envFrom"] == [{"secretRef": {"name": "router-keys", "optional": True}}]
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["policies"]["configMap"]["name"] == "router-policies"
    # Every file of the ConfigMap is mounted into the config directory router reads, one by
    # one (the image's other files there, such as difficulty.json, stay visible).
    mounted = {
        m["subPath"]: m["mountPath"] for m in router["volumeMounts"] if m["name"] == "policies"
    }
    configmap = _one(docs, "ConfigMap", "router-policies")["data"]
    assert mounted == {name: f"/app/policies/{name}" for name in configmap}
    assert "/app/policies" in router["args"]
    shipped_beside = {p.name for p in POLICIES.iterdir()} - set(configmap)
    assert shipped_beside <= {"difficulty.json"}, "a new file in policies/: mount or ship it"
    for kind in ("Service", "PodDisruptionBudget"):
        doc = _one(docs, kind, "router")
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= pod_labels.items(), kind
    hpa = _one(docs, "HorizontalPodAutoscaler", "router")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "router"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    redis = _one(docs, "StatefulSet", "router-redis")
    (server,) = _containers(redis)
    assert "--appendonly" in server["args"]
    assert server["args"][server["args"].index("--appendonly") + 1] == "yes"
    assert server["volumeMounts"][0]["mountPath"] == "/data"
    service = _one(docs, "Service", "router-redis")
    assert service["spec"]["ports"][0]["port"] == 6379
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "router"


def test_the_policies_configmap_is_the_shipped_policies(docs: list[dict[str, Any]]) -> None:
    shipped = {p.name: p.read_text() for p in sorted(POLICIES.glob("*.yaml"))}
    assert _one(docs, "ConfigMap", "router-policies")["data"] == shipped, (
        "policies/ changed: run `uv run python tests/e2e/deploy/test_kubernetes.py`"
    )
    assert (BASE / "policies.yaml").read_text() == configmap_text()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_the_same_objects(docs: list[dict[str, Any]]) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    theirs = [d for d in yaml.safe_load_all(out) if d]

    def key(d: dict[str, Any]) -> tuple[str, str]:
        return d["kind"], d["metadata"]["name"]

    assert sorted(theirs, key=key) == sorted(docs, key=key)


if __name__ == "__main__":
    (BASE / "policies.yaml").write_text(configmap_text())
    print(f"wrote {BASE / 'policies.yaml'}", file=sys.stderr)
