"""Renders the kustomizations under k8s/ and checks manifests against the Kubernetes API schema
offline, with the models of the official Python client (generated from that schema)."""
import functools
import pathlib
import re
import shutil
import subprocess

import yaml
from kubernetes import client
from kubernetes.client import models

ROOT = pathlib.Path(__file__).resolve().parents[2]


KUSTOMIZE_HELP = ("these checks need kubectl with kustomize v4 or later on PATH (machines of this project's kind "
                  "ship Google's `kubectl` package; Debian's kubernetes-client has kustomize v2, which cannot read "
                  "`resources:` folders or `patches:`)")


@functools.cache
def _kustomize_major() -> int | None:
    if shutil.which("kubectl") is None:
        return None
    version = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"Kustomize Version: v(\d+)", version)
    return int(found.group(1)) if found else None


def render(path: str) -> list[dict]:
    """`kubectl kustomize` of a folder under the repository, as a list of objects."""
    major = _kustomize_major()
    assert major is not None and major >= 4, f"kubectl kustomize {path}: {KUSTOMIZE_HELP}; found: " + (
        "no kubectl" if shutil.which("kubectl") is None else f"kustomize v{major}" if major else "a kubectl without kustomize")
    result = subprocess.run(["kubectl", "kustomize", str(ROOT / path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def load(path: str) -> list[dict]:
    return [document for document in yaml.safe_load_all((ROOT / path).read_text()) if document]


def model_name(manifest: dict) -> str:
    """V1Deployment for apps/v1 Deployment, V2HorizontalPodAutoscaler for autoscaling/v2."""
    version = manifest["apiVersion"].split("/")[-1]
    return version[0].upper() + version[1:] + manifest["kind"]


def schema_errors(manifest: dict) -> list[str]:
    """Unknown fields, wrong types and missing required fields, each with its path."""
    name = model_name(manifest)
    if not hasattr(models, name):
        return [f"{manifest.get('kind')}: no Kubernetes API model {name} (unknown apiVersion/kind)"]
    errors: list[str] = []
    _check(manifest, name, manifest["kind"], errors)
    if not errors:
        # Building the models runs the client's own validation: required fields and enums.
        api = client.ApiClient()
        try:
            api._ApiClient__deserialize(manifest, name)
        except (ValueError, TypeError) as error:
            errors.append(f"{manifest['kind']}: {error}")
    return errors


def _check(value, type_name: str, path: str, errors: list[str]) -> None:
    if value is None:
        return
    # The client writes List[T] and Dict[str, T] (older releases: list[T], dict(str, T)).
    if type_name.lower().startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check(item, type_name[5:-1], f"{path}[{index}]", errors)
    elif type_name.lower().startswith(("dict[", "dict(")):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            _check(item, inner, f"{path}.{key}", errors)
    elif type_name in ("str", "bytes"):
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
    elif type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif type_name == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append(f"{path}: expected a number, got {value!r}")
    elif type_name == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true or false, got {value!r}")
    elif type_name == "datetime":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a timestamp string, got {value!r}")
    elif type_name == "object":
        # int-or-string and free-form fields: ports, quantities, maxUnavailable, …
        if isinstance(value, (dict, list)) and path.split(".")[-1] in ("port", "targetPort", "maxUnavailable", "maxSurge", "averageValue", "value"):
            errors.append(f"{path}: expected an integer or a string, got {value!r}")
    else:
        model = getattr(models, type_name)
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a {type_name} object, got {value!r}")
            return
        by_json_name = {json_name: attribute for attribute, json_name in model.attribute_map.items()}
        for key, item in value.items():
            if key not in by_json_name:
                errors.append(f"{path}: unknown field {key!r} (not in {type_name})")
                continue
            _check(item, model.openapi_types[by_json_name[key]], f"{path}.{key}", errors)
