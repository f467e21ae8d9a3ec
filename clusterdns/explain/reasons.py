"""Why the kubernetes plugin answers a name as it does: plain-language reasons naming objects.

Reads the same snapshot `answer()` reads and walks the same steps (kubernetes/dns
docs/specification.md, CoreDNS parse.go and findServices), but only to explain them: the
answer itself always comes from `clusterdns.plugins.kubernetes.answer.answer`.
"""

from clusterdns.dns.names import address_from_dashed, address_from_reverse, labels_below
from clusterdns.dns.names import longest_zone as find_zone
from clusterdns.dns.records import RType
from clusterdns.explain.service_reasons import describe_service, explain_service
from clusterdns.explain.why import (
    Reason,
    Why,
    family,
    is_v6,
    listed,
    slice_name,
    suggest,
    suggest_elsewhere,
)
from clusterdns.explain.why import type_name as _t
from clusterdns.plugins.kubernetes.options import KubernetesConfig, is_reverse_zone
from clusterdns.plugins.kubernetes.snapshot import ZoneSnapshot, live_slices, owners

__all__ = ["Reason", "Why", "explain_name"]


def explain_name(snapshot: ZoneSnapshot, config: KubernetesConfig, qname: str, qtype: int) -> Why:
    """The reasons behind `answer(snapshot, config, qname, qtype)` for a name in our zones."""
    why = Why()
    zone = find_zone(qname, config.zones)
    if zone is None:
        why.add("outside", f"{qname} is outside the kubernetes zones ({', '.join(config.zones)})")
        return why
    labels = labels_below(qname, zone)
    if not labels:
        _apex(why, config, zone, qtype)
    elif is_reverse_zone(zone):
        _reverse(why, snapshot, config, qname, qtype)
    elif labels == ["dns-version"]:
        if qtype == RType.TXT:
            why.add("dns-version", "the schema version of the kubernetes DNS specification")
        else:
            why.add("wrong-type", f"dns-version.{zone} has only a TXT record, no {_t(qtype)}")
    elif labels == ["dns"]:
        why.add("empty-name", f"dns.{zone} exists only above ns.dns.{zone}; it has no records")
    elif labels == ["ns", "dns"]:
        _nameserver(why, config, zone, qtype)
    else:
        _cluster(why, snapshot, config, zone, qname, labels, qtype)
    return why


def _apex(why: Why, config: KubernetesConfig, zone: str, qtype: int) -> None:
    if qtype in (RType.SOA, RType.NS):
        why.add("apex", f"{zone} is the zone apex: its SOA, and NS ns.dns.{zone}")
    else:
        why.add("wrong-type", f"the zone apex {zone} has only SOA and NS records, no {_t(qtype)}")


def _nameserver(why: Why, config: KubernetesConfig, zone: str, qtype: int) -> None:
    addresses = list(config.ns_addresses)
    matching = [a for a in addresses if is_v6(a) == (qtype == RType.AAAA)]
    if qtype in (RType.A, RType.AAAA) and matching:
        why.add("nameserver", f"ns.dns.{zone} names this server: {listed(addresses)}")
    else:
        why.add("wrong-type", f"ns.dns.{zone} has only this server's addresses, no {_t(qtype)}")


def _cluster(
    why: Why,
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    zone: str,
    qname: str,
    labels: list[str],
    qtype: int,
) -> None:
    kind = labels[-1]
    if kind not in ("svc", "pod"):
        why.add(
            "unknown-kind",
            f'"{kind}" is neither "svc" nor "pod": names here are SERVICE.NAMESPACE.svc.{zone} '
            f"or POD-IP.NAMESPACE.pod.{zone}",
        )
        suggest(why, kind, ["svc", "pod"], labels, -1, zone)
        return
    if len(labels) > 5:
        why.add(
            "too-many-labels",
            f"{len(labels)} labels below {zone}; the longest names have 5 "
            f"(_PORT._PROTOCOL.SERVICE.NAMESPACE.svc)",
        )
        return
    if len(labels) == 1:
        why.add("empty-name", f"{kind}.{zone} holds namespaces; it has no records of its own")
        return
    namespace = labels[-2]
    if namespace not in snapshot.namespaces:
        why.add("no-namespace", f'namespace "{namespace}" does not exist')
        suggest(why, namespace, sorted(snapshot.namespaces), labels, -2, zone)
        if kind == "svc" and len(labels) >= 3:
            suggest_elsewhere(why, snapshot, labels, zone)
        return
    if not config.exposes(namespace):
        why.add(
            "namespace-not-served",
            f'namespace "{namespace}" exists but the kubernetes plugin serves only '
            f"namespaces {', '.join(sorted(config.namespaces))}",
        )
        return
    if len(labels) == 2:
        example = f"SERVICE.{namespace}.svc" if kind == "svc" else f"POD-IP.{namespace}.pod"
        why.add(
            "empty-name",
            f'namespace "{namespace}" exists; it has no records of its own '
            f"(names below it: {example}.{zone})",
        )
        return
    if kind == "pod":
        _pod(why, snapshot, config, labels, namespace, qtype)
    else:
        explain_service(why, snapshot, config, zone, labels, namespace, qtype)


def _pod(
    why: Why,
    snapshot: ZoneSnapshot,
    config: KubernetesConfig,
    labels: list[str],
    namespace: str,
    qtype: int,
) -> None:
    if len(labels) != 3:
        why.add("pod-form", "pod names have exactly one label before NAMESPACE.pod: the dashed IP")
        return
    if config.pods == "disabled":
        why.add(
            "pods-disabled",
            "pod records are off (`pods disabled`, the default of a bare kubernetes stanza)",
        )
        return
    address = address_from_dashed(labels[0])
    if address is None:
        why.add("pod-not-ip", f'"{labels[0]}" is not an IP address with dashes (e.g. 10-244-1-5)')
        return
    if config.pods == "verified":
        if namespace not in snapshot.pod_ips.get(address, ()):
            why.add(
                "pod-not-found",
                f'no pod in namespace "{namespace}" has IP {address} (`pods verified`)',
            )
            return
        why.add("pod-verified", f'a pod in namespace "{namespace}" has IP {address}')
    else:
        why.add(
            "pod-insecure",
            f"{labels[0]} stands for {address}; `pods insecure` answers it without checking "
            "that a pod has this IP",
        )
    if qtype in (RType.A, RType.AAAA) and is_v6(address) != (qtype == RType.AAAA):
        why.add("wrong-family", f"{_t(qtype)}: {address} is not an {family(qtype)} address")
    elif qtype not in (RType.A, RType.AAAA):
        why.add("wrong-type", f"pod names have only A or AAAA records, no {_t(qtype)}")


def _reverse(
    why: Why, snapshot: ZoneSnapshot, config: KubernetesConfig, qname: str, qtype: int
) -> None:
    if qtype != RType.PTR:
        why.add("reverse-not-ptr", f"only PTR records exist in the reverse zones, no {_t(qtype)}")
        return
    address = address_from_reverse(qname)
    if address is None:
        why.add("reverse-partial", "not the full reverse name of one IP address")
        return
    services = [k for k in owners(snapshot.cluster_ip_index, address) if config.exposes(k[0])]
    if services:
        entry = snapshot.services[services[0]]
        if entry.service is not None:
            why.add("ptr-service", f"{describe_service(entry.service)} has cluster IP {address}")
        return
    found = False
    for key in owners(snapshot.endpoint_ip_index, address):
        if not config.exposes(key[0]):
            continue
        for piece in live_slices(snapshot.services[key]):
            for member in piece.members():
                if member.ready and member.address == address:
                    found = True
                    why.add(
                        "ptr-endpoint",
                        f"{slice_name(piece)} of Service {key[0]}/{key[1]} has ready "
                        f"endpoint {address}",
                    )
    if not found:
        why.add("no-owner", f"no Service cluster IP and no ready endpoint is {address}")
