"""`timeouts { read D; write D; idle D; maxtcpqueries N }`: a server's TCP connection limits."""

from dataclasses import dataclass, replace

from clusterdns.corefile.directive import (
    arg_duration,
    arg_int,
    check_properties,
    directive_error,
    expect_args,
)
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.server.connections import TcpLimits

_PROPERTIES = ("read", "write", "idle", "maxtcpqueries")
_DAY = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The values a `timeouts` stanza sets; None where it leaves the default."""

    read: float | None = None
    write: float | None = None
    idle: float | None = None
    max_queries: int | None = None
    name: str = "timeouts"

    def tune_tcp(self, limits: TcpLimits) -> TcpLimits:
        """`limits` with this stanza's values in place of the defaults."""
        changes: dict[str, float] = {}
        if self.read is not None:
            changes["read_timeout"] = self.read
        if self.write is not None:
            changes["write_timeout"] = self.write
        if self.idle is not None:
            changes["idle_timeout"] = self.idle
        if self.max_queries is not None:
            changes["max_queries"] = self.max_queries
        return replace(limits, **changes)  # type: ignore[arg-type]  # fields typed per name


def setup(directive: Directive, context: SetupContext) -> Timeouts:
    """Parse the stanza as CoreDNS does: durations 1s..24h, maxtcpqueries -1 or positive."""
    expect_args(directive, 0, 0)
    check_properties(directive, _PROPERTIES)
    if not directive.block:
        raise directive_error(directive, "timeouts block with no timeouts specified")
    values: dict[str, float | int] = {}
    for option in directive.block:
        expect_args(option, 1, 1, directive)
        if option.name == "maxtcpqueries":
            count = arg_int(option, 0, -1, 2**31 - 1, "maxtcpqueries", directive)
            if count == 0:
                raise directive_error(
                    option, "must be -1 (unlimited) or positive, got 0", directive
                )
            values["max_queries"] = count
        else:
            values[option.name] = arg_duration(option, 0, 1.0, _DAY, option.name, directive)
    return Timeouts(**values)  # type: ignore[arg-type]  # keys are the field names above
