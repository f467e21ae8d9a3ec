"""`import PATTERN` as App reads it: relative to the Corefile, sorted globs, empty ones warn."""

import logging
from pathlib import Path

import pytest

from clusterdns.app import App, import_reader
from clusterdns.errors import ConfigError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "b.override").write_text("log\n")
    (custom / "a.override").write_text("errors\n")
    (custom / "dir.override").mkdir()  # a folder matching the glob is skipped
    (custom / "x.server").write_text("example.org {\n}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("pattern", "files"),
    [
        pytest.param("custom/*.override", ["custom/a.override", "custom/b.override"], id="glob"),
        pytest.param("custom/x.server", ["custom/x.server"], id="literal"),
        pytest.param("custom/?.server", ["custom/x.server"], id="question-mark"),
        pytest.param("custom/[ab].override", ["custom/a.override", "custom/b.override"], id="set"),
        pytest.param("custom/*.nothing", [], id="glob-matching-nothing"),
    ],
)
def test_patterns_resolve_relative_to_the_corefile(
    folder: Path, pattern: str, files: list[str]
) -> None:
    read = import_reader(str(folder / "Corefile"))
    found = read(pattern)
    assert [path for path, _ in found] == [str(folder / f) for f in files]
    assert all(text == (folder / f).read_text() for (_, text), f in zip(found, files, strict=True))


def test_absolute_patterns_stay_absolute(folder: Path) -> None:
    read = import_reader("/somewhere/else/Corefile")
    assert [path for path, _ in read(f"{folder}/custom/*.server")] == [f"{folder}/custom/x.server"]


def test_a_glob_matching_nothing_is_one_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="clusterdns.app")
    assert import_reader(str(folder / "Corefile"))("custom/*.nothing") == []
    assert [r.getMessage() for r in caplog.records] == [
        f"import: no files match {folder}/custom/*.nothing; importing nothing"
    ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        pytest.param(
            "import custom/missing.conf",
            "{folder}/Corefile:3: import: cannot read 'custom/missing.conf': ",
            id="literal-missing-is-an-error",
        ),
        pytest.param(
            "import custom/bad.conf",
            "{folder}/custom/bad.conf:2: hosts: bad address '10.0.0.300'",
            id="error-inside-imported-file-names-it",
        ),
    ],
)
def test_import_errors_stop_start_up_with_file_and_line(
    folder: Path, line: str, error: str
) -> None:
    (folder / "custom" / "bad.conf").write_text("hosts {\n  10.0.0.300 x.test\n}\n")
    path = folder / "Corefile"
    text = f".:0 {{\n    bind 127.0.0.1\n    {line}\n}}\n"
    with pytest.raises(ConfigError) as caught:
        App(text, str(path))
    assert str(caught.value).startswith(error.format(folder=folder))
