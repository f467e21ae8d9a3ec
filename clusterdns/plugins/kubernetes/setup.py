"""`kubernetes [ZONES...] { ... }`: parse the stanza, check its files, make the plugin."""

from pathlib import Path

from clusterdns.corefile.directive import directive_error
from clusterdns.corefile.parser import Directive
from clusterdns.plugin import SetupContext
from clusterdns.plugins.kubernetes.handler import KubernetesPlugin
from clusterdns.plugins.kubernetes.options import from_corefile, parse_kubernetes


def setup(directive: Directive, context: SetupContext) -> KubernetesPlugin:
    """The plugin for one stanza, with its source (manifests or the live API) not yet started."""
    config = parse_kubernetes(directive, context.zones)
    _check_manifests(directive)
    return KubernetesPlugin(config, context)


def _check_manifests(directive: Directive) -> None:
    """A CorefileError at the `manifests` line naming a path that does not exist."""
    for option in directive.block:
        if option.name != "manifests":
            continue
        for text in option.args:
            path = from_corefile(option.file, text)
            if not Path(path).exists():
                where = "" if path == text else f" (looked for {path})"
                raise directive_error(option, f"{text}: no such file or folder{where}", directive)
