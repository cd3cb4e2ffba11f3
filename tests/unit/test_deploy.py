"""deploy/: the Docker Compose and KubeRay deployments of cluster mode, checked by reading them.

There is no Docker daemon or Kubernetes here, so what can be checked without them is: the files
parse, name the services, commands, ports and health checks docs/cluster.md describes, refer to
files that exist, agree with each other (the image's project folder is the submitter's working
dir, config.json's `nimbus` is the head's address, the UI port is the published one), and never
hold a token.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from squall.local.project import Project, resolve
from squall.topology.config import DEFAULTS, check, unknown_key_warnings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERAY = DEPLOY / "kuberay"
SEED = ROOT / "tests" / "streamparse_projects" / "wordcount"
SEED_SUBMIT = ["squall", "submit", "-e", "prod", "-n", "wordcount", "-w", "4"]  # the seed's `sparse submit`
PROJECT_DIR = "/srv/wordcount"  # where the image holds the project


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return json.loads((DEPLOY / "wordcount" / "config.json").read_text(encoding="utf-8"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile: continuations joined, comments dropped."""
    lines = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, "deploy/Dockerfile ends inside a continued line"
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def copies() -> list[tuple[list[str], str]]:
    """The Dockerfile's COPY instructions as (sources, destination), in order."""
    out = []
    for word, args in dockerfile_instructions():
        if word == "COPY":
            parts = json.loads(args) if args.startswith("[") else shlex.split(args)
            parts = [p for p in parts if not p.startswith("--")]
            out.append((parts[:-1], parts[-1]))
    return out


def entrypoint_after_dashdash(command: list[str]) -> list[str]:
    assert "--" in command, command
    return command[command.index("--") + 1 :]


def flag(command: list[str], name: str) -> str | None:
    """The value of ``--name=value`` (or ``--name value``) in an argv list."""
    for i, arg in enumerate(command):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(command):
            return command[i + 1]
    return None


# --- Docker Compose ------------------------------------------------------------------------------


def test_compose_has_the_head_the_workers_and_a_one_shot_submitter(services):
    assert set(services) == {"ray-head", "worker", "submitter"}
    for name, svc in services.items():
        assert svc["image"] == "squall:latest", name
    # one build (the head's), from the repository's root; the others use it and never pull a namesake
    assert [n for n, s in services.items() if "build" in s] == ["ray-head"]
    build = services["ray-head"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert (DEPLOY / build["context"]).resolve() == ROOT
    assert services["worker"]["pull_policy"] == services["submitter"]["pull_policy"] == "never"


def test_the_head_runs_gcs_publishes_the_ui_and_reports_health(services):
    head = services["ray-head"]
    cmd = head["command"]
    assert cmd[:3] == ["ray", "start", "--head"] and "--block" in cmd
    assert flag(cmd, "--port") == "6379"
    assert flag(cmd, "--dashboard-host") == "0.0.0.0"  # the submitter reaches the Jobs API
    assert head["hostname"] == "ray-head"
    published = {}
    for spec in head["ports"]:
        *host, container = str(spec).split(":")
        published[int(container)] = host
    assert published[8080] == ["127.0.0.1", "49080"]  # the UI, on the seed's port, this machine only
    assert published[8265][0] == "127.0.0.1"
    check = head["healthcheck"]
    # the GCS, and the agent that runs submitted jobs (before it is up: "No available agent to submit job")
    assert check["test"][0] == "CMD" and "/api/gcs_healthz" in check["test"][-1]
    assert "52365/api/local_raylet_healthz" in check["test"][-1]
    compile(check["test"][-1], "healthcheck", "exec")
    assert check["retries"] >= 1
    assert head["restart"] == "unless-stopped"


def test_workers_join_the_head_and_can_be_scaled(services):
    worker = services["worker"]
    cmd = worker["command"]
    assert cmd[:2] == ["ray", "start"] and "--block" in cmd and "--head" not in cmd
    assert flag(cmd, "--address") == "ray-head:6379"
    # `docker compose up --scale worker=4` needs a service with no fixed name and no host port
    assert not {"container_name", "hostname", "ports"} & set(worker)
    assert worker["depends_on"]["ray-head"]["condition"] == "service_healthy"
    assert any("local_raylet_healthz" in part for part in worker["healthcheck"]["test"])
    assert worker["restart"] == "unless-stopped"


def test_the_submitter_runs_the_seeds_command_as_a_ray_job_once(services):
    sub = services["submitter"]
    cmd = sub["command"]
    assert cmd[:3] == ["ray", "job", "submit"]
    assert flag(cmd, "--address") == "http://ray-head:8265"
    assert entrypoint_after_dashdash(cmd) == SEED_SUBMIT
    assert flag(cmd[: cmd.index("--")], "--working-dir") == PROJECT_DIR
    assert sub["depends_on"]["ray-head"]["condition"] == "service_healthy"
    assert sub["depends_on"]["worker"]["condition"] == "service_healthy"
    assert sub["restart"] == "no"
    assert "ports" not in sub


def test_every_container_has_ray_token_auth_from_an_ignored_env_file(services):
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/ray-auth.env" in ignored
    for name, svc in services.items():
        assert svc["environment"]["RAY_AUTH_MODE"] == "token", name
        assert "RAY_AUTH_TOKEN" not in svc["environment"], name  # the token is never in the file
        assert svc["env_file"] == ["ray-auth.env"], name
    assert "RAY_AUTH_MODE: disabled" not in (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")


# --- the image and the project it carries ---------------------------------------------------------


def test_dockerfile_copies_files_that_exist_and_installs_the_ray_extra():
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and re.match(r"python:3\.11-slim-bookworm$", instructions[0][1])
    for sources, _dest in copies():
        for src in sources:
            assert (ROOT / src).exists(), f"deploy/Dockerfile copies {src}, which the repository does not have"
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert "pip install '.[ray,streamparse]'" in runs
    assert not re.search(r"\b(apt-get|apt|curl|wget)\b", runs), "the build must reach nothing but PyPI"
    # `pip install .` reads these: the image must have them
    sources = {src for srcs, _ in copies() for src in srcs}
    assert {"pyproject.toml", "README.md", "squall"} <= sources
    assert [args for word, args in instructions if word == "WORKDIR"][-1] == PROJECT_DIR


def test_the_build_context_lets_through_what_the_dockerfile_copies():
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"  # everything else (.git, .venv, caches) stays out of the context
    allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for sources, _ in copies():
        for source in sources:
            src = source.rstrip("/")
            assert any(src == a or src.startswith(a + "/") for a in allowed), f"{src} is excluded by the dockerignore"


def test_the_image_holds_the_seed_project_with_this_deployments_config():
    by_dest = {dest.rstrip("/"): sources for sources, dest in copies()}
    assert by_dest[PROJECT_DIR] == ["tests/streamparse_projects/wordcount"]
    assert by_dest[PROJECT_DIR + "/config.json"] == ["deploy/wordcount/config.json"]
    assert list(by_dest).index(PROJECT_DIR) < list(by_dest).index(PROJECT_DIR + "/config.json")


def test_config_json_env_prod_names_the_head_and_the_published_ui(config, services):
    seed = json.loads((SEED / "config.json").read_text(encoding="utf-8"))
    # the seed project's config, but for the envs
    assert {k: v for k, v in config.items() if k != "envs"} == {k: v for k, v in seed.items() if k != "envs"}
    project = Project(str(SEED), config)
    assert resolve("wordcount", project, check_module=False).ref.endswith("topologies/wordcount.py")
    head_cmd = services["ray-head"]["command"]
    _, prod = project.env("prod")
    assert prod["nimbus"] == f"{services['ray-head']['hostname']}:{flag(head_cmd, '--port')}" == "ray-head:6379"
    options = project.env_options("prod")
    # 0.0.0.0 inside the container: Docker's published port reaches the container's address, not its loopback
    assert options == {"squall.ui.host": "0.0.0.0", "squall.ui.port": 8080}
    for env in project.envs():
        opts = project.env_options(env)
        assert unknown_key_warnings(opts, env) == []
        check({**DEFAULTS, **opts})


# --- KubeRay --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERAY / "kustomization.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifests(kustomization: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> manifest, for every document of every file the kustomization lists."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((KUBERAY / resource).read_text(encoding="utf-8")):
            assert doc, f"empty document in {resource}"
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in out, key
            out[key] = doc
    return out


def ray_containers(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    spec = cluster["spec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    return [g["template"]["spec"]["containers"][0] for g in groups]


def test_kustomization_lists_every_manifest_and_generates_the_secrets(kustomization):
    files = sorted(p.name for p in KUBERAY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    generated = {g["name"]: g["envs"] for g in kustomization["secretGenerator"]}
    assert generated == {"squall-ray-token": ["ray-token.env"], "squall-redis": ["redis.env"]}
    assert kustomization["generatorOptions"]["disableNameSuffixHash"] is True
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/kuberay/*.env" in ignored


def test_kuberay_manifests_have_the_expected_kinds(manifests):
    kinds = {kind: manifest["apiVersion"] for (kind, _), manifest in manifests.items()}
    assert kinds == {
        "RayCluster": "ray.io/v1",
        "RayJob": "ray.io/v1",
        "Service": "v1",
        "Deployment": "apps/v1",
        "PersistentVolumeClaim": "v1",
    }
    assert "Secret" not in kinds, "secrets come from the generator, never from a file in git"


def test_raycluster_has_token_auth_gcs_fault_tolerance_and_a_worker_group(manifests):
    cluster = manifests["RayCluster", "squall"]
    spec = cluster["spec"]
    major, minor, *_ = (int(x) for x in spec["rayVersion"].split("."))
    assert (major, minor) >= (2, 52), "Ray's token authentication needs Ray >= 2.52"
    assert spec["authOptions"] == {"mode": "token", "secretName": "squall-ray-token"}
    ft = spec["gcsFaultToleranceOptions"]
    redis_svc = manifests["Service", "squall-redis"]
    assert ft["redisAddress"] == f"redis://squall-redis:{redis_svc['spec']['ports'][0]['port']}"
    assert ft["redisPassword"]["valueFrom"]["secretKeyRef"] == {"name": "squall-redis", "key": "password"}
    assert "ray.io/ft-enabled" not in (cluster["metadata"].get("annotations") or {})  # the old switch, exclusive
    (group,) = spec["workerGroupSpecs"]
    assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"] and group["replicas"] == 4
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    for container in ray_containers(cluster):
        assert container["image"] == "squall:latest"
        # our probes (KubeRay's defaults run wget, which the image does not have)
        assert "httpGet" in container["readinessProbe"] and "httpGet" in container["livenessProbe"]
        assert not any(e["name"] == "RAY_AUTH_MODE" and e["value"] == "disabled" for e in container.get("env", []))


def test_redis_password_comes_from_the_secret(manifests):
    redis = manifests["Deployment", "squall-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert "$(REDIS_PASSWORD)" in redis["args"] and "--appendonly" in redis["args"]
    (env,) = redis["env"]
    assert env["name"] == "REDIS_PASSWORD"
    assert env["valueFrom"]["secretKeyRef"] == {"name": "squall-redis", "key": "password"}


def test_rayjob_submits_to_the_existing_cluster_with_the_token(manifests, config):
    job = manifests["RayJob", "squall-submit-wordcount"]["spec"]
    assert job["clusterSelector"] == {"ray.io/cluster": "squall"}
    assert "rayClusterSpec" not in job and not job.get("shutdownAfterJobFinishes", False)
    assert shlex.split(job["entrypoint"]) == ["squall", "submit", "-e", "kuberay", "-n", "wordcount", "-w", "4"]
    assert yaml.safe_load(job["runtimeEnvYAML"]) == {"working_dir": PROJECT_DIR}
    submitter = job["submitterPodTemplate"]["spec"]["containers"][0]
    assert submitter["image"] == "squall:latest"
    env = {e["name"]: e for e in submitter["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "squall-ray-token", "key": "auth_token"}
    assert "value" not in env["RAY_AUTH_TOKEN"]
    # config.json's env `kuberay` names the head Service KubeRay creates (<cluster>-head-svc)
    assert config["envs"]["kuberay"]["nimbus"] == "squall-head-svc:6379"


def test_the_ui_service_reaches_the_masters_port_on_the_head(manifests, config):
    cluster = manifests["RayCluster", "squall"]
    head = ray_containers(cluster)[0]
    ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    ui_port = config["envs"]["kuberay"]["options"]["squall.ui.port"]
    assert ports["squall-ui"] == ui_port != 8080  # 8080 is Ray's metrics exporter under KubeRay
    svc = manifests["Service", "squall-ui"]["spec"]
    assert svc["selector"] == {"ray.io/cluster": "squall", "ray.io/node-type": "head"}
    assert svc["ports"][0]["targetPort"] == "squall-ui"


def test_no_file_of_deploy_holds_a_token():
    for path in DEPLOY.rglob("*"):
        if path.is_file() and not path.name.endswith(".env"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"RAY_AUTH_TOKEN\s*[:=]\s*\S{8,}", text), path
            assert not re.search(r"\b[0-9a-f]{32,}\b", text), path


def test_the_docs_name_only_deploy_files_that_exist():
    text = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    named = set(re.findall(r"deploy/[\w./-]*\w", text))
    assert {"deploy/docker-compose.yml", "deploy/Dockerfile", "deploy/kuberay"} <= named
    ignored = {"deploy/ray-auth.env", "deploy/kuberay/ray-token.env", "deploy/kuberay/redis.env"}
    for path in named - ignored:
        assert (ROOT / path).exists(), f"docs/cluster.md names {path}, which does not exist"
    # the KubeRay files, named alone in their section
    manifests = set(re.findall(r"`([\w-]+\.yaml)`", text))
    assert manifests == {p.name for p in KUBERAY.glob("*.yaml")}
