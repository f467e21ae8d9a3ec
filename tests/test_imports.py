"""`import PATTERN` as App reads it: relative to the Corefile, sorted globs, empty ones warn."""

import logging
from pathlib import Path

import pytest

from clusterdns.app import App, import_reader
from clusterdns.errors import ConfigError
from tests.conftest import plugins


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
    corefile = str(folder / "Corefile")
    found = import_reader(corefile)(pattern, corefile)
    assert [path for path, _ in found] == [str(folder / f) for f in files]
    assert all(text == (folder / f).read_text() for (_, text), f in zip(found, files, strict=True))


def test_absolute_patterns_stay_absolute(folder: Path) -> None:
    read = import_reader("/somewhere/else/Corefile")
    found = read(f"{folder}/custom/*.server", "/somewhere/else/Corefile")
    assert [path for path, _ in found] == [f"{folder}/custom/x.server"]


def test_a_glob_matching_nothing_is_one_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="clusterdns.app")
    corefile = str(folder / "Corefile")
    assert import_reader(corefile)("custom/*.nothing", corefile) == []
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


def test_an_imported_file_imports_relative_to_its_own_folder(folder: Path) -> None:
    nested = folder / "custom" / "nested"
    nested.mkdir()
    (folder / "custom" / "outer.conf").write_text("import nested/inner.conf\n")
    (nested / "inner.conf").write_text("hosts {\n    10.0.0.8 inner.test\n}\n")
    text = ".:0 {\n    bind 127.0.0.1\n    import custom/outer.conf\n}\n"
    app = App(text, str(folder / "Corefile"))
    (hosts,) = plugins(app, "hosts")
    assert hosts.inline.v4 == {"inner.test.": ("10.0.0.8",)}  # type: ignore[attr-defined]


def test_files_of_one_glob_are_imported_in_sorted_order(folder: Path) -> None:
    (folder / "custom" / "a.override").write_text("\n\nhosts {\n    10.0.0.1 a.test\n}\n")
    (folder / "custom" / "b.override").write_text("whoami\n")
    text = ".:0 {\n    bind 127.0.0.1\n    import custom/*.override\n}\n"
    app = App(text, str(folder / "Corefile"))
    names = [name for name, _ in app.servers[0].plugins]
    assert names == ["hosts", "whoami"]
