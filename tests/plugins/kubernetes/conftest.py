"""Fixtures for the live-API feed: a FakeKubeAPI, the real client pointed at it, reflectors."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from clusterdns.plugins.kubernetes.client import KubeClient, Resource, load_api_config
from clusterdns.plugins.kubernetes.reflector import Reflectors, ReflectorSettings
from clusterdns.plugins.kubernetes.store import ObjectStore
from tests.fakes.kube_api import FakeKubeAPI

# Small numbers keep every recovery path well under a second.
FAST = ReflectorSettings(page_size=100, timeout_seconds=5, backoff_base=0.01, backoff_cap=0.05)


class Signal:
    """A condition tests wait on, notified by on_change, the fake API and log records."""

    def __init__(self) -> None:
        self._cond = threading.Condition()

    def notify(self) -> None:
        """Wake every waiter to re-check its predicate."""
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Return once `predicate()` holds; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"condition not met within {timeout}s")
                self._cond.wait(remaining)


class LogWatch(logging.Handler):
    """Keeps clusterdns log records and wakes a Signal as each arrives."""

    def __init__(self, signal: Signal) -> None:
        super().__init__(logging.INFO)
        self._signal = signal
        self._lock_records = threading.Lock()
        self._records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self._records.append(record)
        self._signal.notify()

    def messages(self, logger: str, level: int) -> list[str]:
        """Messages `logger` logged at exactly `level`, oldest first."""
        with self._lock_records:
            records = list(self._records)
        return [r.getMessage() for r in records if r.name == logger and r.levelno == level]


@pytest.fixture
def signal() -> Signal:
    """A Signal for the test's waits."""
    return Signal()


@pytest.fixture
def logs(signal: Signal, caplog: pytest.LogCaptureFixture) -> Iterator[LogWatch]:
    """clusterdns log records at INFO and above, each waking `signal`."""
    caplog.set_level(logging.INFO, logger="clusterdns")
    handler = LogWatch(signal)
    logger = logging.getLogger("clusterdns")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def fake_api(signal: Signal) -> Iterator[FakeKubeAPI]:
    """A running FakeKubeAPI whose every request wakes `signal`."""
    fake = FakeKubeAPI(on_request=signal.notify)
    yield fake
    fake.close()


@pytest.fixture
def kubeconfig(fake_api: FakeKubeAPI, tmp_path: Path) -> str:
    """A kubeconfig file for `fake_api`."""
    return fake_api.write_kubeconfig(tmp_path / "kubeconfig")


def make_client(kubeconfig: str, watch_slack: float = 0.3) -> KubeClient:
    """The real client with test-sized timeouts."""
    config = load_api_config(kubeconfig=kubeconfig)
    return KubeClient(config, connect_timeout=2.0, list_timeout=5.0, watch_slack=watch_slack)


@pytest.fixture
def kube_client(kubeconfig: str) -> Iterator[KubeClient]:
    """A KubeClient for `fake_api`."""
    client = make_client(kubeconfig)
    yield client
    client.close()


class Feed:
    """Reflectors into one store, each change waking `signal`; stopped at teardown."""

    def __init__(self, client: KubeClient, signal: Signal) -> None:
        self.client = client
        self.signal = signal
        self.store = ObjectStore()
        self.changes = 0
        self.groups: list[Reflectors] = []

    def start(
        self,
        resources: Sequence[Resource],
        settings: ReflectorSettings = FAST,
        rng: random.Random | None = None,
    ) -> Reflectors:
        """Start reflectors for `resources`."""
        group = Reflectors(
            self.client,
            self.store,
            resources,
            on_change=self._changed,
            on_synced=self.signal.notify,
            settings=settings,
            rng=rng,
        )
        self.groups.append(group)
        group.start()
        return group

    def _changed(self) -> None:
        self.changes += 1
        self.signal.notify()

    def stop(self) -> None:
        """Stop every group and check no thread is left behind."""
        for group in self.groups:
            assert group.stop(timeout=5.0), "a reflector thread did not stop"


@pytest.fixture
def feed(kube_client: KubeClient, signal: Signal) -> Iterator[Feed]:
    """A Feed over `kube_client`."""
    result = Feed(kube_client, signal)
    yield result
    result.stop()
