"""The plugin contract's values."""

import dataclasses

from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import Family, Response


def test_counting_hits_changes_on_hit_and_keeps_every_other_field() -> None:
    # A field added to Response must be carried by counting_hits too: set each one to a
    # value that is not its default and compare with dataclasses.replace.
    claim = Family("web.demo.svc.cluster.local.", frozenset().__contains__, "scope")
    values: dict[str, object] = {
        "plugin": "kubernetes",
        "answer": Answer(Rcode.NXDOMAIN),
        "wire": b"\x00",
        "cacheable": True,
        "scope": "scope",
        "rotations": (Answer(Rcode.NOERROR),),
        "ttl": 5.0,
        "udp_size": 1232,
        "drop": True,
        "encoded": b"\x01",
        "on_hit": print,
        "observe": lambda *args: None,
        "family": claim,
    }
    assert set(values) == {f.name for f in dataclasses.fields(Response)}
    response = Response(**values)  # type: ignore[arg-type]

    def counted() -> None:
        pass

    assert response.counting_hits(counted) == dataclasses.replace(response, on_hit=counted)
