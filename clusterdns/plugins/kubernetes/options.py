"""The `kubernetes` stanza as a frozen config (CoreDNS plugin/kubernetes/setup.go)."""

import logging
import os.path
from dataclasses import dataclass, replace

from clusterdns.corefile.directive import (
    arg_choice,
    arg_int,
    directive_error,
    expect_args,
    expect_no_block,
    fallthrough_zones,
)
from clusterdns.corefile.parser import Directive
from clusterdns.dns.names import is_subdomain, normalize

logger = logging.getLogger(__name__)

PODS_MODES = ("disabled", "insecure", "verified")
REVERSE_ZONES = ("in-addr.arpa.", "ip6.arpa.")


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    """What the `kubernetes` stanza says: zones, answers' shape and where objects come from.

    The defaults are CoreDNS's for a stanza that does not set them (ttl 5, pods disabled, no
    fallthrough); the zones default to the server block's, so they are always given.
    """

    zones: tuple[str, ...]
    ttl: int = 5
    pods: str = "disabled"
    fallthrough: tuple[str, ...] = ()
    endpoint_pod_names: bool = False
    ns_addresses: tuple[str, ...] = ()  # (): decided at setup from the listen addresses
    namespaces: frozenset[str] = frozenset()  # empty: every namespace is exposed
    labels: str = ""
    namespace_labels: str = ""
    noendpoints: bool = False
    ignore_empty_service: bool = False
    # Where the objects come from: manifests (a clusterdns extension), else the API.
    manifests: tuple[str, ...] = ()
    endpoint: str = ""
    kubeconfig: str = ""
    context: str = ""
    token_file: str = ""
    ca_file: str = ""
    insecure: bool = False

    @property
    def primary_zone(self) -> str:
        """The first forward zone: PTR targets and endpoint names live under it."""
        for zone in self.zones:
            if not is_reverse_zone(zone):
                return zone
        return self.zones[0]

    def falls_through(self, name: str) -> bool:
        """True when a name error for `name` goes to the next plugin instead of NXDOMAIN."""
        return any(is_subdomain(name, zone) for zone in self.fallthrough)

    def exposes(self, namespace: str) -> bool:
        """True when answers may name `namespace` (the `namespaces` option)."""
        return not self.namespaces or namespace in self.namespaces


def is_reverse_zone(zone: str) -> bool:
    """True for zones inside in-addr.arpa or ip6.arpa."""
    return any(is_subdomain(zone, r) for r in REVERSE_ZONES)


def parse_kubernetes(directive: Directive, server_zones: tuple[str, ...]) -> KubernetesConfig:
    """The config of one `kubernetes [ZONES...] { ... }` stanza (CoreDNS plugin/kubernetes)."""
    zones = tuple(normalize(z) for z in directive.args) or server_zones
    for zone in zones:
        if not any(is_subdomain(zone, z) for z in server_zones):
            raise directive_error(directive, f"zone {zone} is not in the server block's zones")
    config = KubernetesConfig(zones=zones)
    for option in directive.block:
        config = _option(config, option, directive)
    if config.manifests and (config.endpoint or config.kubeconfig):
        raise directive_error(directive, "manifests cannot be combined with endpoint/kubeconfig")
    return config


def _option(config: KubernetesConfig, option: Directive, parent: Directive) -> KubernetesConfig:
    name = option.name
    expect_no_block(option, parent)
    if name == "pods":
        expect_args(option, 1, 1, parent)
        return replace(config, pods=arg_choice(option, 0, PODS_MODES, "mode", parent))
    if name == "ttl":
        expect_args(option, 1, 1, parent)
        return replace(config, ttl=arg_int(option, 0, 0, 3600, "TTL", parent))
    if name == "fallthrough":
        return replace(config, fallthrough=fallthrough_zones(option))
    if name == "namespaces":
        expect_args(option, 1, None, parent)
        return replace(config, namespaces=frozenset(a.lower() for a in option.args))
    if name == "labels":
        return replace(config, labels=" ".join(expect_args(option, 1, None, parent)))
    if name == "namespace_labels":
        return replace(config, namespace_labels=" ".join(expect_args(option, 1, None, parent)))
    if name == "noendpoints":
        expect_args(option, 0, 0, parent)
        return replace(config, noendpoints=True)
    if name == "endpoint_pod_names":
        expect_args(option, 0, 0, parent)
        return replace(config, endpoint_pod_names=True)
    if name == "insecure_skip_tls_verify":
        expect_args(option, 0, 0, parent)
        return replace(config, insecure=True)
    if name == "ignore":
        expect_args(option, 1, 1, parent)
        arg_choice(option, 0, ("empty_service",), "what", parent)
        return replace(config, ignore_empty_service=True)
    if name == "endpoint":
        expect_args(option, 1, 1, parent)
        return replace(config, endpoint=option.args[0])
    if name == "kubeconfig":
        args = expect_args(option, 1, 2, parent)
        return replace(config, kubeconfig=args[0], context=args[1] if len(args) > 1 else "")
    if name == "manifests":
        paths = expect_args(option, 1, None, parent)
        return replace(config, manifests=tuple(from_corefile(option.file, p) for p in paths))
    if name == "token_file":
        return replace(config, token_file=expect_args(option, 1, 1, parent)[0])
    if name == "ca_file":
        return replace(config, ca_file=expect_args(option, 1, 1, parent)[0])
    if name in _ACCEPTED:
        logger.warning("%s:%d: kubernetes: %s %s", option.file, option.line, name, _ACCEPTED[name])
        return config
    raise directive_error(
        option, f"unknown property {name!r}; supported: {', '.join(sorted(_SUPPORTED))}", parent
    )


# Options CoreDNS still parses but which change nothing here: say so once and go on.
_ACCEPTED = {
    "upstream": "is obsolete (CoreDNS ignores it too); ExternalName targets use the chain",
    "startup_timeout": "is accepted; clusterdns serves SERVFAIL until synced instead of waiting",
    "apiserver_qps": "is accepted and ignored: clusterdns only lists and watches",
    "apiserver_burst": "is accepted and ignored: clusterdns only lists and watches",
    "apiserver_max_inflight": "is accepted and ignored: clusterdns only lists and watches",
}
_SUPPORTED = {
    "pods",
    "ttl",
    "fallthrough",
    "namespaces",
    "labels",
    "namespace_labels",
    "ignore",
    "endpoint",
    "kubeconfig",
    "manifests",
    "token_file",
    "ca_file",
    "noendpoints",
    "endpoint_pod_names",
    "insecure_skip_tls_verify",
    *_ACCEPTED,
}


def from_corefile(corefile: str, path: str) -> str:
    """`path` as named in `corefile`: a relative path starts from the Corefile's folder.

    So a Corefile means the same files whatever folder clusterdns runs from, as `import`
    paths do in CoreDNS. Flags (`serve --manifests`) are relative to the working folder:
    their pseudo-file `serve flags` has no folder.
    """
    if os.path.isabs(path):
        return path
    return os.path.join(os.path.dirname(corefile), path)
