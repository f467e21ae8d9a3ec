"""`bind ADDRESS...`: the IP addresses a server block's port is bound to."""

import ipaddress

from clusterdns.corefile.directive import directive_error, expect_args, expect_no_block
from clusterdns.corefile.parser import Directive


def bind_addresses(directive: Directive) -> tuple[str, ...]:
    """The addresses named (IPs only; CoreDNS's interface names are not supported)."""
    args = expect_args(directive, 1)
    expect_no_block(directive)
    addresses = []
    for text in args:
        try:
            addresses.append(str(ipaddress.ip_address(text)))
        except ValueError:
            raise directive_error(directive, f"want an IP address, got {text!r}") from None
    return tuple(addresses)
