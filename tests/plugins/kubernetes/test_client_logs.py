"""An API outage is clusterdns's to report: urllib3's per-retry warnings stay out of the log."""

import logging
from pathlib import Path

import pytest

from clusterdns.plugins.kubernetes.client import SERVICES, ApiRequestError
from tests.fakes.kube_api import FakeKubeAPI
from tests.plugins.kubernetes.conftest import make_client


def test_refused_requests_log_no_urllib3_retry_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    fake = FakeKubeAPI(start=False)  # bound, not listening: connections are refused
    try:
        client = make_client(fake.write_kubeconfig(tmp_path / "kubeconfig"))
        for _ in range(5):
            with pytest.raises(ApiRequestError, match="refused"):
                client.list(SERVICES, 10)
        client.close()
    finally:
        fake.close()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")] == []
