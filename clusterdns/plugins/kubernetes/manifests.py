"""Cluster objects from manifest text: YAML or JSON, multi-document, `kind: List` dumps."""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from clusterdns.errors import ManifestError, ObjectError
from clusterdns.plugins.kubernetes.objects import ClusterObject, parse_object

try:  # libyaml's loader is ~10x faster on big `kubectl get -o yaml` dumps
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class ParsedManifests:
    """Objects from one source, and one error per unusable document or item."""

    objects: tuple[ClusterObject, ...]
    errors: tuple[ManifestError, ...]


def parse_manifests(text: str, source: str, pod_names: bool = False) -> ParsedManifests:
    """Every object in `text` (named `source` in errors); bad documents become errors."""
    objects: list[ClusterObject] = []
    errors: list[ManifestError] = []
    number = 0
    try:
        for number, document in _documents(text, source):
            for field, raw in _items(document):
                try:
                    obj = _parse(raw, field, pod_names)
                except ObjectError as exc:
                    errors.append(ManifestError(source, number, exc.field, exc.problem))
                    continue
                if obj is not None:
                    objects.append(obj)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        errors.append(ManifestError(source, number + 1, "", _syntax_problem(exc)))
    return ParsedManifests(tuple(objects), tuple(errors))


def _documents(text: str, source: str) -> Iterator[tuple[int, Any]]:
    if source.endswith(".json"):
        yield 1, json.loads(text)
        return
    for number, document in enumerate(yaml.load_all(text, Loader=_Loader), start=1):
        if document is not None:
            yield number, document


def _items(document: Any) -> Iterator[tuple[str, Any]]:
    """(field prefix, object) pairs: the document itself, or each item of a List."""
    if isinstance(document, Mapping) and str(document.get("kind", "")).endswith("List"):
        items = document.get("items") or []
        if not isinstance(items, list):
            yield "", {"kind": "List", "items": items}
            return
        for index, item in enumerate(items):
            yield f"items[{index}].", item
        return
    yield "", document


def _parse(raw: Any, prefix: str, pod_names: bool) -> ClusterObject | None:
    if not isinstance(raw, Mapping):
        raise ObjectError(prefix.rstrip(".") or "document", "must be a mapping")
    try:
        return parse_object(raw, pod_names)
    except ObjectError as exc:
        name = (
            raw.get("metadata", {}).get("name")
            if isinstance(raw.get("metadata"), Mapping)
            else None
        )
        what = f"{raw.get('kind')} {name}: " if name else ""
        raise ObjectError(f"{prefix}{exc.field}", f"{what}{exc.problem}") from None


def _syntax_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}: {getattr(exc, 'problem', None) or exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}: {exc.msg}"
    return str(exc)
