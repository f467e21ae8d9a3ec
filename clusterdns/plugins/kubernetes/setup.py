"""Configuration of the `kubernetes` plugin as a frozen value."""

from dataclasses import dataclass

from clusterdns.dns.names import is_subdomain, normalize

PODS_MODES = ("disabled", "insecure", "verified")
REVERSE_ZONES = ("in-addr.arpa.", "ip6.arpa.")


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    """What the `kubernetes` stanza says: zones, TTL, pod mode, fallthrough zones."""

    zones: tuple[str, ...] = ("cluster.local.", "in-addr.arpa.", "ip6.arpa.")
    ttl: int = 30
    pods: str = "insecure"
    fallthrough: tuple[str, ...] = ("in-addr.arpa.", "ip6.arpa.")
    endpoint_pod_names: bool = False
    ns_addresses: tuple[str, ...] = ("127.0.0.1",)

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


def is_reverse_zone(zone: str) -> bool:
    """True for zones inside in-addr.arpa or ip6.arpa."""
    return any(is_subdomain(zone, r) for r in REVERSE_ZONES)


def make_config(
    zones: tuple[str, ...] = ("cluster.local", "in-addr.arpa", "ip6.arpa"),
    ttl: int = 30,
    pods: str = "insecure",
    fallthrough: tuple[str, ...] = ("in-addr.arpa", "ip6.arpa"),
    endpoint_pod_names: bool = False,
    ns_addresses: tuple[str, ...] = ("127.0.0.1",),
) -> KubernetesConfig:
    """A config with every name normalized; raises ValueError for out-of-range values."""
    if not 0 <= ttl <= 3600:
        raise ValueError(f"ttl must be 0..3600, got {ttl}")
    if pods not in PODS_MODES:
        raise ValueError(f"pods must be one of {', '.join(PODS_MODES)}, got {pods!r}")
    return KubernetesConfig(
        tuple(normalize(z) for z in zones),
        ttl,
        pods,
        tuple(normalize(z) for z in fallthrough),
        endpoint_pod_names,
        ns_addresses,
    )
