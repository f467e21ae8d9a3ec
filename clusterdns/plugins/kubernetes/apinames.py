"""The name rules the Kubernetes API server applies, for objects that never went through it."""

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from clusterdns.errors import ObjectError

# Name rules the API server applies on create (k8s.io/apimachinery validation): a Service name
# is an RFC 1035 label, namespaces and endpoint hostnames RFC 1123 labels, object names RFC
# 1123 subdomains. Manifests never went through the API, so their names are checked here:
# a name outside these rules could not be served (a 64-byte label cannot be encoded).
_LABEL_1123 = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_1035 = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_RULE = "at most 63 of a-z, 0-9 and '-', starting and ending with a letter or digit"
_RULES: dict[str, tuple[str, Callable[[str], bool]]] = {
    "label": (
        f"not a DNS label (RFC 1123: {_LABEL_RULE})",
        lambda v: bool(_LABEL_1123.fullmatch(v)),
    ),
    "service": (
        f"not a Service name (RFC 1035 label: {_LABEL_RULE}, starting with a letter)",
        lambda v: bool(_LABEL_1035.fullmatch(v)),
    ),
    "subdomain": (
        "not a DNS subdomain (RFC 1123: at most 253 characters, dot-separated labels)",
        lambda v: len(v) <= 253 and all(_LABEL_1123.fullmatch(part) for part in v.split(".")),
    ),
}


@lru_cache(maxsize=8192)
def valid_name(rule: str, value: str) -> bool:
    """Whether `value` follows `rule` ("label", "service" or "subdomain"), letter case folded.

    Cached: namespaces and port names repeat across objects.
    """
    return value.isascii() and _RULES[rule][1](value.lower())


def check_names(raw: Mapping[str, Any]) -> None:
    """Raise ObjectError naming the first name in `raw` the API server would reject.

    Letter case is folded first, as everywhere else here (DNS names are case-insensitive);
    anything non-ASCII is rejected, as the API rejects it.
    """
    kind = raw.get("kind")
    _check(_at(raw, "metadata.namespace"), "metadata.namespace", "label")
    if kind == "Namespace":
        _check(_at(raw, "metadata.name"), "metadata.name", "label")
    elif kind == "Service":
        _check(_at(raw, "metadata.name"), "metadata.name", "service")
        _check_port_names(_at(raw, "spec.ports"), "spec.ports")
        if _at(raw, "spec.type") == "ExternalName":
            external = _at(raw, "spec.externalName")
            if isinstance(external, str):
                # The API checks the name without its optional trailing dot.
                _check(external.removesuffix("."), "spec.externalName", "subdomain")
    elif kind == "EndpointSlice":
        _check(_at(raw, "metadata.name"), "metadata.name", "subdomain")
        _check_hostnames(_at(raw, "endpoints"), "endpoints")
        _check_port_names(_at(raw, "ports"), "ports")
    elif kind == "Endpoints":
        _check(_at(raw, "metadata.name"), "metadata.name", "subdomain")
        subsets = _at(raw, "subsets")
        for s, subset in enumerate(subsets if isinstance(subsets, list) else []):
            if isinstance(subset, dict):
                for key in ("addresses", "notReadyAddresses"):
                    _check_hostnames(subset.get(key), f"subsets[{s}].{key}")
                _check_port_names(subset.get("ports"), f"subsets[{s}].ports")
    elif kind == "Pod":
        _check(_at(raw, "metadata.name"), "metadata.name", "subdomain")


def _check_hostnames(items: Any, field: str) -> None:
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            _check(item.get("hostname"), f"{field}[{index}].hostname", "label")


def _check_port_names(items: Any, field: str) -> None:
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            _check(item.get("name"), f"{field}[{index}].name", "label")


def _check(value: Any, field: str, rule: str) -> None:
    """ObjectError unless `value` (a non-empty string) follows `rule`; others are parse errors."""
    if not isinstance(value, str) or not value:
        return
    if valid_name(rule, value):
        return
    problem = _RULES[rule][0]
    shown = value if len(value) <= 40 else f"{value[:40]}... ({len(value)} characters)"
    raise ObjectError(field, f"{shown!r} is {problem}")


def _at(raw: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of mappings, or None."""
    node: Any = raw
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
