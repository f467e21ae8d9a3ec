"""The `bufsize [SIZE]` stanza as a frozen config."""

from dataclasses import dataclass

from clusterdns.corefile.directive import arg_int, expect_args, expect_no_block
from clusterdns.corefile.parser import Directive

DEFAULT_SIZE = 1232  # CoreDNS's default: the DNS Flag Day 2020 size, no IP fragmentation
MIN_SIZE, MAX_SIZE = 512, 4096


@dataclass(frozen=True, slots=True)
class BufsizeConfig:
    """The largest EDNS UDP payload clients may ask for."""

    size: int = DEFAULT_SIZE


def parse(directive: Directive) -> BufsizeConfig:
    """The config of a `bufsize` directive; CorefileError (file:line) if invalid."""
    args = expect_args(directive, 0, 1)
    expect_no_block(directive)
    if not args:
        return BufsizeConfig()
    return BufsizeConfig(arg_int(directive, 0, MIN_SIZE, MAX_SIZE, "SIZE"))
