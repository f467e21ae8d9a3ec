"""The one exception hierarchy of clusterdns."""


class ClusterDNSError(Exception):
    """Base class of every error clusterdns raises on purpose."""


class ConfigError(ClusterDNSError):
    """Configuration that cannot be used: stops start-up with one line, exit 1."""


class ManifestError(ConfigError):
    """A manifest document that cannot become a cluster object."""

    def __init__(self, source: str, document: int, field: str, problem: str) -> None:
        self.source = source
        self.document = document
        self.field = field
        self.problem = problem
        where = f"{source}: document {document}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {problem}")


class ObjectError(ClusterDNSError):
    """An API object that lacks a field answers need, or holds a malformed one."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class WireError(ClusterDNSError):
    """A DNS message that cannot be decoded."""


class QueryRejected(WireError):
    """A readable header with a query we refuse to process: answered with `rcode` only."""

    def __init__(self, rcode: int, reason: str) -> None:
        self.rcode = rcode
        super().__init__(reason)


class HeaderError(WireError):
    """A message too short or too broken to answer at all: dropped."""


class UpstreamError(ClusterDNSError):
    """No usable reply from an upstream resolver."""


class KubeAPIError(ClusterDNSError):
    """The Kubernetes API refused or failed a request."""
