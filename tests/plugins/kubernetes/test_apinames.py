"""The API server's name rules: RFC 1123 labels and subdomains, RFC 1035 labels (Service names)."""

import pytest

from clusterdns.errors import ObjectError
from clusterdns.plugins.kubernetes.apinames import check_names, valid_name


@pytest.mark.parametrize(
    ("rule", "value", "valid"),
    [
        pytest.param("label", "web-0", True, id="label"),
        pytest.param("label", "0web", True, id="label-digit-first"),
        pytest.param("label", "a" * 63, True, id="label-63"),
        pytest.param("label", "a" * 64, False, id="label-64"),
        pytest.param("label", "web-", False, id="label-hyphen-last"),
        pytest.param("label", "-web", False, id="label-hyphen-first"),
        pytest.param("label", "a.b", False, id="label-dot"),
        pytest.param("label", "a_b", False, id="label-underscore"),
        pytest.param("label", "wéb", False, id="label-non-ascii"),
        pytest.param("label", "Web", True, id="label-case-folded"),
        pytest.param("service", "web", True, id="service"),
        pytest.param("service", "1web", False, id="service-digit-first"),
        pytest.param("subdomain", "a.b-c.d", True, id="subdomain"),
        pytest.param("subdomain", "a..b", False, id="subdomain-empty-label"),
        pytest.param("subdomain", ".".join(["a" * 63] * 4), False, id="subdomain-255"),
        pytest.param("subdomain", ".".join(["a" * 62] * 4), True, id="subdomain-251"),
    ],
)
def test_rules(rule: str, value: str, valid: bool) -> None:
    assert valid_name(rule, value) is valid


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(
            {"kind": "Namespace", "metadata": {"name": "a" * 64}}, "metadata.name", id="ns"
        ),
        pytest.param(
            {"kind": "Service", "metadata": {"name": "web", "namespace": "A_B"}},
            "metadata.namespace",
            id="namespace-of-any-kind",
        ),
        pytest.param(
            {"kind": "Service", "metadata": {"name": "w"}, "spec": {"ports": [{"name": "x."}]}},
            "spec.ports[0].name",
            id="service-port",
        ),
        pytest.param(
            {
                "kind": "EndpointSlice",
                "metadata": {"name": "s"},
                "endpoints": [{}, {"hostname": "-"}],
            },
            "endpoints[1].hostname",
            id="slice-hostname",
        ),
        pytest.param({"kind": "Pod", "metadata": {"name": "p..q"}}, "metadata.name", id="pod"),
    ],
)
def test_check_names_names_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ObjectError) as error:
        check_names(raw)
    assert error.value.field == field


def test_valid_names_and_missing_ones_pass() -> None:
    check_names({"kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "ExternalName"}})
    check_names({"kind": "Service", "spec": {"type": "ExternalName", "externalName": "a.b."}})
