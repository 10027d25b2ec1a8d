"""PATCH bodies: JSON merge patch, strategic merge patch and JSON patch.

Mirrors what the API server accepts: ``application/merge-patch+json`` (RFC 7386),
``application/strategic-merge-patch+json`` (merge patch, except that lists Kubernetes declares
with a patch merge key, such as containers by name or conditions by type, are merged item by
item and ``$patch: delete`` removes an item) and ``application/json-patch+json`` (RFC 6902).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request, unsupported_media_type

REJECTED = "the server rejected our request due to an error in our request: "
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]

# Lists that strategic merge patch merges by key (field name -> merge key), as in core/v1.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "tolerations": "key",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
}
# Port lists merge by their number: containerPort in containers, port in services.
PORT_MERGE_KEYS = ("containerPort", "port")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key_for(field: str, items: list[Any]) -> str | None:
    if field in MERGE_KEYS:
        return MERGE_KEYS[field]
    if field == "ports":
        for key in PORT_MERGE_KEYS:
            if items and all(isinstance(item, dict) and key in item for item in items):
                return key
    return None


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    if isinstance(patch, list) and isinstance(target, list):
        key = _merge_key_for(field, patch)
        if key is None:
            return copy.deepcopy(patch)
        merged = [copy.deepcopy(item) for item in target]
        for item in patch:
            if not isinstance(item, dict):
                raise bad_request(f"unable to find api field in struct for the merge key {key!r}")
            position = next(
                (
                    i
                    for i, old in enumerate(merged)
                    if isinstance(old, dict) and old.get(key) == item.get(key)
                ),
                None,
            )
            if item.get("$patch") == "delete":
                if position is not None:
                    merged.pop(position)
            elif position is None:
                merged.append(strategic_merge_patch({}, item))
            else:
                merged[position] = strategic_merge_patch(merged[position], item)
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, key)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(REJECTED + f"invalid path {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _resolve(document: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            raise ApiError(
                422,
                "Invalid",
                REJECTED + f"doc is missing path: /{'/'.join(parts)}",
            )
    return document


def _add(document: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(document, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise ApiError(
                422,
                "Invalid",
                REJECTED + f"index out of range: {last}",
            )
        parent.insert(index, value)
    else:
        raise ApiError(
            422,
            "Invalid",
            REJECTED + "invalid target",
        )
    return document


def _remove(document: Any, parts: list[str]) -> Any:
    parent = _resolve(document, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise ApiError(
        422,
        "Invalid",
        REJECTED + f"unable to remove nonexistent key: {last}: missing value",
    )


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 operations: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    document = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise bad_request("the server rejected our request due to an error in our request")
        op = operation["op"]
        parts = _pointer(str(operation.get("path", "")))
        if op == "add":
            document = _add(document, parts, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            _remove(document, parts)
        elif op == "replace":
            _remove(document, parts)
            document = _add(document, parts, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            source = _pointer(str(operation.get("from", "")))
            value = (
                _remove(document, source)
                if op == "move"
                else copy.deepcopy(_resolve(document, source))
            )
            document = _add(document, parts, value)
        elif op == "test":
            if _resolve(document, parts) != operation.get("value"):
                raise ApiError(
                    422,
                    "Invalid",
                    REJECTED + "testing value failed",
                )
        else:
            raise bad_request(f"Unexpected kind: {op}")
    return document


def apply_patch(content_type: str, target: dict[str, Any], patch: Any) -> Any:
    """The patched document, or the API error a cluster gives for this patch type."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == JSON_PATCH:
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise bad_request(
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    if kind == MERGE_PATCH:
        return merge_patch(target, patch)
    if kind == STRATEGIC_MERGE_PATCH:
        return strategic_merge_patch(target, patch)
    raise unsupported_media_type(kind, PATCH_TYPES[:3])
