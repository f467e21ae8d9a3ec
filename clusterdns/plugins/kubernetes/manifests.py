"""Cluster objects from manifest text: YAML or JSON, multi-document, `kind: List` dumps."""

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from clusterdns.errors import ManifestError, ObjectError
from clusterdns.plugins.kubernetes.apinames import check_names, valid_name
from clusterdns.plugins.kubernetes.jsonreader import PIECE, JsonReader
from clusterdns.plugins.kubernetes.objects import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    LEGACY_SLICE_PREFIX,
    NAMESPACE,
    POD,
    SERVICE,
    ClusterObject,
    EndpointSlice,
    Namespace,
    Service,
    parse_object,
)

try:  # libyaml's parser is ~10x faster than PyYAML's own on big `kubectl get -o yaml` dumps
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Loader: Any = yaml.SafeLoader  # PyYAML's own parser, composer and safe constructor
else:

    class _CStreamLoader(CParser, Composer, SafeConstructor, Resolver):
        """libyaml's events with PyYAML's composer and safe constructor: a node at a time."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.anchors = {}

    _Loader = _CStreamLoader

# The kinds that carry DNS data; documents of any other kind are counted and skipped.
READ_KINDS = frozenset((NAMESPACE, SERVICE, ENDPOINT_SLICE, ENDPOINTS, POD))
NOT_AN_OBJECT = "(no kind)"


@dataclass(frozen=True, slots=True)
class ParsedManifests:
    """What one source holds: objects, fatal errors, skipped objects and where objects live.

    `rejected` are objects skipped for a name the API server would refuse (each one a warning);
    `skipped` counts documents of kinds without DNS data; `namespaces` holds the namespace of
    every object seen, skipped kinds included (in manifest mode they make the namespace exist).
    """

    objects: tuple[ClusterObject, ...]
    errors: tuple[ManifestError, ...]
    rejected: tuple[ManifestError, ...] = ()
    skipped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    namespaces: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Tally:
    """The mutable side of one parse, frozen into ParsedManifests at the end."""

    objects: list[ClusterObject]
    errors: list[ManifestError]
    rejected: list[ManifestError]
    skipped: Counter[str]
    namespaces: set[str]


def parse_manifests(text: str, source: str, pod_names: bool = False) -> ParsedManifests:
    """Every object in `text` (named `source` in messages); bad documents become errors.

    A JSON `List` is read one item at a time, so a 100k-Service dump never exists as one tree
    of dicts (that tree costs ~4x the file in memory, and the allocator keeps it afterwards).
    """
    if source.endswith(".json"):
        return _parse_entries(_json_entries(JsonReader(text)), source, pod_names)
    return _parse_entries(_yaml_entries(text), source, pod_names)


def parse_manifest_file(
    path: Path, pod_names: bool = False, *, piece: int = PIECE
) -> ParsedManifests:
    """Every object in the manifest file at `path`, as `parse_manifests` reads its text.

    A `.json` file is read `piece` characters at a time as its items are decoded, so the text
    of a 100k-Service dump (80 MB) is never in memory whole beside the objects made from it:
    about 40 MiB less peak RSS at 100k. YAML is read whole. Raises OSError or UnicodeDecodeError
    when the file cannot be read.
    """
    source = str(path)
    if not source.endswith(".json"):
        return parse_manifests(path.read_text(encoding="utf-8"), source, pod_names)
    with path.open(encoding="utf-8") as stream:
        reader = JsonReader("", stream.read, piece)
        return _parse_entries(_json_entries(reader), source, pod_names)


def _parse_entries(
    entries: Iterator[tuple[int, str, Any]], source: str, pod_names: bool
) -> ParsedManifests:
    tally = _Tally([], [], [], Counter(), set())
    try:
        for number, prefix, raw in entries:
            _read(raw, prefix, pod_names, tally, source, number)
    except json.JSONDecodeError as exc:  # (YAML's errors come out of _entries as entries)
        tally.errors.append(ManifestError(source, 1, "", _syntax_problem(exc)))
    return ParsedManifests(
        tuple(tally.objects),
        tuple(tally.errors),
        tuple(tally.rejected),
        MappingProxyType(dict(tally.skipped)),
        frozenset(tally.namespaces),
    )


def _read(raw: Any, prefix: str, pod_names: bool, tally: _Tally, source: str, number: int) -> None:
    """Parse one object into `tally`: an object, an error, a rejected name or a skipped kind."""
    if isinstance(raw, ObjectError):  # a List whose shape is wrong as a whole
        tally.errors.append(ManifestError(source, number, raw.field, raw.problem))
        return
    if not isinstance(raw, dict):
        if prefix:  # an item of a List, a kind we read: strict
            where = prefix.rstrip(".")
            tally.errors.append(ManifestError(source, number, where, "must be a mapping"))
        else:  # a YAML file that is not a Kubernetes object at all (e.g. a list of values)
            tally.skipped[NOT_AN_OBJECT] += 1
        return
    kind = raw.get("kind")
    if kind not in READ_KINDS:
        # Deployments, ConfigMaps, a Helm values.yaml: no DNS data in them (CoreDNS watches
        # only these kinds too). Their namespace still counts as existing.
        if kind:
            tally.skipped[str(kind)] += 1
            _note_namespace(raw, tally)
        else:  # not a Kubernetes object: it lives in no namespace
            tally.skipped[NOT_AN_OBJECT] += 1
        return
    try:
        obj = _parse(raw, prefix, pod_names)
    except ObjectError as exc:
        tally.errors.append(ManifestError(source, number, exc.field, exc.problem))
        return
    if obj is None:  # an FQDN slice: nothing DNS serves
        return
    if not _has_valid_names(obj):
        # The quick check on the slim object failed: find the field in the raw object. (A
        # name that is not a string at all is only caught by the quick check.)
        field, problem = f"{prefix}metadata", "a name is not a valid DNS name"
        try:
            check_names(raw)
        except ObjectError as exc:
            field, problem = f"{prefix}{exc.field}", exc.problem
        tally.rejected.append(ManifestError(source, number, field, f"{_what(raw)}{problem}"))
        return
    tally.objects.append(obj)
    if not isinstance(obj, Namespace):
        tally.namespaces.add(obj.namespace)


def _has_valid_names(obj: ClusterObject) -> bool:
    """True when every name `obj` puts into DNS follows the API server's rules.

    Cheap (names repeat, results are cached), so every manifest object is checked; when it
    says False, `check_names` on the raw object names the field.
    """
    if isinstance(obj, Namespace):
        return valid_name("label", obj.name)
    if not valid_name("label", obj.namespace):
        return False
    if isinstance(obj, Service):
        return (
            valid_name("service", obj.name)
            and all(valid_name("label", port.name) for port in obj.ports if port.name)
            and (not obj.external_name or valid_name("subdomain", obj.external_name[:-1]))
        )
    if isinstance(obj, EndpointSlice):
        return (
            valid_name("subdomain", obj.name.removeprefix(LEGACY_SLICE_PREFIX))
            and all(valid_name("label", port.name) for port in obj.ports if port.name)
            and all(
                valid_name("label", item.hostname)
                for item in obj.endpoints
                if not isinstance(item, str) and item.hostname
            )
        )
    return valid_name("subdomain", obj.name)


def _note_namespace(raw: Mapping[str, Any], tally: _Tally) -> None:
    """Remember where `raw` lives (`default` when unset), if that is a valid namespace name."""
    metadata = raw.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if raw.get("kind") == NAMESPACE or (namespace is not None and not isinstance(namespace, str)):
        return
    try:
        check_names({"metadata": {"namespace": namespace or "default"}})
    except ObjectError:
        return
    tally.namespaces.add((namespace or "default").lower())


def _is_list(document: Any) -> bool:
    return isinstance(document, dict) and str(document.get("kind", "")).endswith("List")


def _whole(head: dict[str, Any], streamed: bool, number: int) -> Iterator[tuple[int, str, Any]]:
    """The end of a top-level mapping whose `items` (if a list) was already streamed.

    kubectl prints `items` before `kind`, so a mapping with an `items` list is taken as a List
    while it streams, and its `kind` is checked here, once the mapping has ended.
    """
    if streamed:
        if not _is_list(head) and "kind" in head:
            problem = f"a document with an items list must be a List, got {head['kind']!r}"
            yield number, "", ObjectError("kind", problem)
    elif _is_list(head):
        items = head.get("items")
        if items is not None:
            yield number, "", ObjectError("items", f"must be a list, got {type(items).__name__}")
    elif head:
        yield number, "", head


def _yaml_entries(text: str) -> Iterator[tuple[int, str, Any]]:
    """YAML documents, a top-level `items` list built one item at a time.

    PyYAML builds a whole document as a graph of nodes before any object exists: ~60x the text
    in memory for a `kubectl get -o yaml` List (10k Services: 500 MiB). Here libyaml's events
    are composed into nodes one item at a time, so the graph never holds more than one object.
    """
    loader = _Loader(text)
    number = 0
    try:
        loader.get_event()  # stream start
        while not loader.check_event(yaml.StreamEndEvent):
            loader.get_event()  # document start
            number += 1
            if loader.check_event(yaml.MappingStartEvent):
                yield from _yaml_mapping(loader, number)
            else:
                document = loader.construct_document(loader.compose_node(None, 0))
                if document is not None:
                    yield number, "", document
            loader.get_event()  # document end
            loader.anchors = {}
    except yaml.YAMLError as exc:  # the rest of the file cannot be read
        yield max(number, 1), "", ObjectError("", _syntax_problem(exc))
    finally:
        loader.dispose()


def _yaml_mapping(loader: Any, number: int) -> Iterator[tuple[int, str, Any]]:
    """A top-level mapping, key by key; its `items` list item by item."""
    loader.get_event()
    head: dict[str, Any] = {}
    streamed = False
    while not loader.check_event(yaml.MappingEndEvent):
        key = loader.construct_document(loader.compose_node(None, 0))
        if key == "items" and loader.check_event(yaml.SequenceStartEvent):
            streamed = True
            loader.get_event()
            index = 0
            while not loader.check_event(yaml.SequenceEndEvent):
                item = loader.construct_document(loader.compose_node(None, 0))
                yield number, f"items[{index}].", item
                index += 1
            loader.get_event()
        else:
            head[str(key)] = loader.construct_document(loader.compose_node(None, 0))
    loader.get_event()
    yield from _whole(head, streamed, number)


def _json_entries(reader: JsonReader) -> Iterator[tuple[int, str, Any]]:
    """The items of one JSON document, a List's items decoded one at a time.

    The top-level object is walked key by key with the standard decoder; only the `items`
    array is split. kubectl prints `items` before `kind`, so an object with an `items` array
    is taken as a List and its `kind` checked once the object ends.
    """
    if not reader.at("{"):
        yield 1, "", reader.rest()  # a bare array or scalar: one (bad) document
        return
    reader.pos += 1
    head: dict[str, Any] = {}
    has_items = False
    while not reader.at("}"):
        key = reader.value()
        if not isinstance(key, str):
            raise reader.error("Expecting property name")
        reader.expect(":")
        if key == "items" and reader.at("["):
            has_items = True
            yield from _json_array(reader)
        else:
            head[key] = reader.value()
        if reader.at(","):
            reader.pos += 1
        elif not reader.at("}"):
            raise reader.error("Expecting ',' delimiter")
    reader.pos += 1
    if not reader.at_end():
        raise reader.error("Extra data")
    yield from _whole(head, has_items, 1)


def _json_array(reader: JsonReader) -> Iterator[tuple[int, str, Any]]:
    """Yield each element of the array starting at the reader's position, and consume it."""
    reader.pos += 1
    index = 0
    while not reader.at("]"):
        item = reader.value()
        yield 1, f"items[{index}].", item
        index += 1
        if reader.at(","):
            reader.pos += 1
        elif not reader.at("]"):
            raise reader.error("Expecting ',' delimiter")
    reader.pos += 1


def _parse(raw: dict[str, Any], prefix: str, pod_names: bool) -> ClusterObject | None:
    try:
        return parse_object(raw, pod_names)
    except ObjectError as exc:
        raise ObjectError(f"{prefix}{exc.field}", f"{_what(raw)}{exc.problem}") from None


def _what(raw: Mapping[str, Any]) -> str:
    """'Service web: ' for messages, or '' when the object has no usable name."""
    metadata = raw.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{raw.get('kind')} {name}: " if isinstance(name, str) and name else ""


def _syntax_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}: {getattr(exc, 'problem', None) or exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}: {exc.msg}"
    return str(exc)
