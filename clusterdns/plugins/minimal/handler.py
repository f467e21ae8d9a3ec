"""The `minimal` handler: drop authority and additional records from positive answers."""

from dataclasses import replace

from clusterdns.dns.records import Answer, Rcode
from clusterdns.plugin import Next, Request, Response


class MinimalHandler:
    """Trims what later plugins answer; denials, errors and delegations pass unchanged."""

    name = "minimal"

    async def serve(self, request: Request, next: Next) -> Response:
        """The next plugin's response, with only the answer section when it is a plain success."""
        response = await next(request)
        if response.answer is None or not trims(response.answer):
            return response  # raw upstream replies are passed on as they came (see README)
        trimmed = minimal(response.answer)
        rotations = tuple(minimal(a) for a in response.rotations)
        return replace(response, answer=trimmed, rotations=rotations)


def trims(answer: Answer) -> bool:
    """True for a success with records that is not a delegation (CoreDNS response.Typify)."""
    # NXDOMAIN, NODATA and errors keep their SOA; a delegation (no answer, NS in authority)
    # keeps its NS and glue.
    if answer.rcode != Rcode.NOERROR or not answer.answer:
        return False
    return bool(answer.authority or answer.additional)


def minimal(answer: Answer) -> Answer:
    """`answer` with its authority and additional sections emptied."""
    return replace(answer, authority=(), additional=())
