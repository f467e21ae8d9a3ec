"""The file stanza, CoreDNS's documented forms, and errors naming FILE:LINE and the token."""

import pytest

from clusterdns.corefile.lexer import CorefileError
from clusterdns.plugins.file.options import FileConfig, parse
from tests.fakes.plugins import stanza

SERVER = ("example.org.",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "file db.example.org", FileConfig("db.example.org", ("example.org.",)), id="server-zone"
        ),
        pytest.param(
            "file example.org.signed example.org lab.example.org",
            FileConfig("example.org.signed", ("example.org.", "lab.example.org.")),
            id="several-zones",
        ),
        pytest.param(
            "file db.example.org {\n reload 30s\n}",
            FileConfig("db.example.org", SERVER, reload=30.0),
            id="reload",
        ),
        pytest.param(
            "file db.example.org {\n reload 0\n}",
            FileConfig("db.example.org", SERVER, reload=0.0),
            id="no-reload",
        ),
        pytest.param(
            "file db.example.org {\n reload_by_mtime\n}",
            FileConfig("db.example.org", SERVER, by_mtime=True),
            id="reload-by-mtime",
        ),
        pytest.param(
            "file db.example.org {\n fallthrough in-addr.arpa\n}",
            FileConfig("db.example.org", SERVER, fallthrough=("in-addr.arpa.",)),
            id="fallthrough",
        ),
    ],
)
def test_stanzas(text: str, expected: FileConfig) -> None:
    assert parse(stanza(text), SERVER) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            "file", "Corefile:2: file: expected at least 1 argument, got none", id="no-file"
        ),
        pytest.param(
            "file db {\n reload soon\n}",
            "Corefile:3: file: reload: reload interval must be a duration such as 5s or 1m30s, "
            "got 'soon'",
            id="bad-duration",
        ),
        pytest.param(
            "file db {\n reload\n}",
            "Corefile:3: file: reload: expected 1 argument, got none",
            id="reload-without-value",
        ),
        pytest.param(
            "file db {\n transfer to *\n}",
            "Corefile:3: file: transfer: unknown property 'transfer', expected one of: reload, "
            "reload_by_mtime, fallthrough",
            id="unknown-property",
        ),
    ],
)
def test_errors(text: str, error: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza(text), SERVER)
    assert str(caught.value) == error


def test_a_zone_outside_the_server_block_is_an_error() -> None:
    with pytest.raises(CorefileError) as caught:
        parse(stanza("file db.example.net example.net"), SERVER)
    assert str(caught.value) == (
        "Corefile:2: file: zone example.net. is not in the server block's zones"
    )
