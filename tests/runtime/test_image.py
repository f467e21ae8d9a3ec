"""What can be checked of the image without a Docker engine (there is none on this machine).

`docker build` itself never runs here. Instead: the Dockerfile says what kubeadm needs, the
files it COPYs survive .dockerignore, those files alone build a wheel the way the builder
stage does, and the installed, precompiled wheel runs `python -m clusterdns` away from the
source tree.
"""

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in DOCKERFILE.replace("\\\n", " ").splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def instructions(keyword: str) -> list[str]:
    return [line[len(keyword) :].strip() for line in INSTRUCTIONS if line.startswith(keyword + " ")]


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the context (the plain patterns used there)."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or fnmatch.fnmatchcase(
                prefix.rsplit("/", 1)[-1], bare
            ):
                return True
    return False


def builder_sources() -> list[str]:
    """The sources of the builder stage's COPY lines."""
    sources: list[str] = []
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        sources.extend(copy.split()[:-1])
    return sources


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    assert instructions("FROM") == ["python:3.11-slim AS builder", "python:3.11-slim"]
    assert any("pip wheel" in run and "-w /wheels" in run for run in instructions("RUN"))
    final = DOCKERFILE.split("FROM python:3.11-slim\n", 1)[1]
    assert "pip install --no-cache-dir" in final
    assert "python -m compileall -q" in final


def test_dockerfile_keeps_kubeadm_args_ports_and_no_bytecode_writes() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", "clusterdns"]
    assert instructions("CMD") == []  # kubeadm's args are the whole command line
    assert instructions("EXPOSE") == ["53/udp 53/tcp 8080 8181 9153"]
    (env,) = instructions("ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    # Root on purpose: only root keeps NET_BIND_SERVICE under kubeadm's securityContext.
    assert instructions("USER") == []
    assert "NET_BIND_SERVICE" in DOCKERFILE
    assert "ip_unprivileged_port_start" in DOCKERFILE


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    sources = builder_sources()
    assert sources == ["requirements.lock", "pyproject.toml", "README.md", "clusterdns"]
    assert [s for s in sources if ignored(s)] == []
    for path in (
        "tests",
        ".git",
        "bench/out",
        ".venv",
        "clusterdns/__pycache__/x.pyc",
        "requirements-test.lock",
    ):
        assert ignored(path), path


def test_the_copied_files_build_a_wheel_that_runs_installed(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in builder_sources():
        subprocess.run(["cp", "-r", str(ROOT / source), str(context / source)], check=True)
    for cache in context.rglob("__pycache__"):
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # As the builder stage does (build isolation: pip fetches setuptools>=68 itself), but for
    # this project's wheel only; the image's pip also builds the dependencies' wheels.
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", ".", "-w", str(tmp_path / "w")],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0 and re.search(
        r"(?i)connection|resolve|no matching dist", built.stderr
    ):
        pytest.skip(f"no package index to fetch the build backend from: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "w").glob("clusterdns-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(site)], check=True, timeout=300)
    assert list((site / "clusterdns").rglob("__pycache__/*.pyc"))
    assert not list(site.rglob("tests"))

    empty = tmp_path / "cwd"
    empty.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    where = subprocess.run(
        [sys.executable, "-c", "import clusterdns; print(clusterdns.__file__)"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site))
    for flag in ("-version", "-plugins"):
        result = subprocess.run(
            [sys.executable, "-m", "clusterdns", flag],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("name", ["Dockerfile", ".dockerignore"])
def test_image_files_are_in_the_repository_root(name: str) -> None:
    assert (ROOT / name).is_file()


# --- Reproducible installs: the locks, and who installs from them ------------------------------


def locked(name: str) -> dict[str, list[str]]:
    """`package -> hashes` of a pip-compile lock (names normalized as pip does)."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if match := re.match(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", line):
            current = f"{normalize(match[1])}=={match[2]}"
            pins[current] = []
        elif line.startswith("--hash=sha256:") and current:
            pins[current].append(line.removeprefix("--hash=sha256:").rstrip(" \\"))
    return pins


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extra: str | None = None) -> set[str]:
    """The names pyproject.toml asks for (runtime, or one extra)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = (
        text.split("dependencies = [", 1)[1] if extra is None else text.split(f"{extra} = [", 1)[1]
    ).split("]", 1)[0]
    return {
        normalize(re.split(r"[<>=!~ ]", item.strip().strip('",'))[0])
        for item in block.splitlines()
        if item.strip().strip('",')
    }


@pytest.mark.parametrize(
    ("lock", "extra"),
    [
        pytest.param("requirements.lock", None, id="runtime"),
        pytest.param("requirements-test.lock", "test", id="test"),
    ],
)
def test_every_dependency_is_pinned_with_hashes(lock: str, extra: str | None) -> None:
    pins = locked(lock)
    names = {pin.split("==")[0] for pin in pins}
    assert declared() <= names
    if extra:
        assert declared(extra) <= names
    for pin, hashes in pins.items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), pin


def test_the_test_lock_runs_the_runtime_lock_versions() -> None:
    runtime = locked("requirements.lock")
    test = locked("requirements-test.lock")
    assert set(runtime) <= set(test)
    assert {pin: test[pin] for pin in runtime} == runtime


def test_the_image_and_ci_install_only_from_the_locks() -> None:
    runs = [" ".join(run.split()) for run in instructions("RUN")]
    assert any("--require-hashes -r requirements.lock" in run for run in runs)
    assert any("--require-hashes -r /tmp/requirements.lock" in run for run in runs)
    script = (ROOT / "scripts" / "test").read_text()
    assert "pip install -q --require-hashes -r requirements-test.lock" in script
    assert "--no-deps --no-build-isolation -e ." in script
