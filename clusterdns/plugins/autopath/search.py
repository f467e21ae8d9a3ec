"""Search paths and the answer splice of autopath: pure functions (CoreDNS plugin/autopath).

A pod's resolv.conf (kubelet) is `search <ns>.svc.<zone> svc.<zone> <zone> <node's domains>`
with `options ndots:5`, so `example.com` is first asked as `example.com.<ns>.svc.<zone>`. When
that first expansion arrives from a pod's IP, autopath walks the rest of the path on the server
and answers with a CNAME from the asked name to the first name that exists, plus its records.
"""

from collections.abc import Mapping

from clusterdns.dns.names import ROOT, is_subdomain, longest_zone
from clusterdns.dns.records import Answer, Rcode, Record, RType, Target
from clusterdns.plugins.kubernetes.options import KubernetesConfig


def kubernetes_search(
    config: KubernetesConfig,
    pod_ips: Mapping[str, frozenset[str]],
    host_search: tuple[str, ...],
    client_ip: str,
    qname: str,
) -> tuple[str, ...] | None:
    """The search path of the pod at `client_ip` (CoreDNS kubernetes AutoPath), or None.

    None when `qname` is outside the kubernetes zones, `pods verified` is off, or the address
    is not one pod namespace's: hostNetwork pods share their node's address, and guessing one
    of several namespaces (CoreDNS takes the first it finds) would answer with another
    namespace's Services.
    """
    zone = longest_zone(qname, config.zones)
    if zone is None or config.pods != "verified":
        return None
    namespaces = pod_ips.get(client_ip)
    if namespaces is None or len(namespaces) != 1:
        return None
    (namespace,) = namespaces
    if zone == ROOT:
        head: tuple[str, ...] = (f"{namespace}.svc.", "svc.", ROOT)
    else:
        head = (f"{namespace}.svc.{zone}", f"svc.{zone}", zone)
    return (*head, *host_search, "")


def base_name(qname: str, first: str) -> str | None:
    """What the client asked before its first search domain was appended, or None when
    `qname` is not a name strictly below `first` (CoreDNS firstInSearchPath and TrimZone)."""
    if qname == first or not is_subdomain(qname, first):
        return None
    base = qname[: len(qname) - len(first)] if first != ROOT else qname
    base = base.rstrip(".")
    return base if base and "\\" not in base else None


def expand(base: str, domain: str) -> str:
    """`base` with search `domain` appended ("" stands for the name as asked)."""
    if domain in ("", ROOT):
        return base + "."
    return f"{base}.{domain}"


def with_alias(answer: Answer, original: str) -> Answer:
    """`answer` with a CNAME from `original` to the owner of its first record named otherwise
    (CoreDNS autopath cnamer), so the client accepts records for a name it did not ask."""
    for record in answer.answer:
        if record.name != original:
            alias = Record(original, RType.CNAME, record.ttl, Target(record.name))
            return Answer(
                answer.rcode,
                (alias, *answer.answer),
                answer.authority,
                answer.additional,
                answer.authoritative,
                answer.recursion_available,
            )
    return answer


def continues(rcode: int) -> bool:
    """True when the walk goes on to the next domain: a name error, or no usable reply (CoreDNS
    plugin.ClientWrite: SERVFAIL, REFUSED, FORMERR and NOTIMP mean nothing was written)."""
    return rcode in (Rcode.NXDOMAIN, Rcode.SERVFAIL, Rcode.REFUSED, Rcode.FORMERR, Rcode.NOTIMP)
