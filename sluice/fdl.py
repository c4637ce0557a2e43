"""OSCAR's FDL files, read as `oscar-cli apply` reads them (`ReadFDL` in its
`pkg/service/service.go`): `functions: {oscar: [{<cluster>: <service>}, ...]}`, each
service's `script` a file beside the FDL (or an absolute path, as oscar-python takes it),
and the file's own `storage_providers` and `clusters` given to every service. Sluice is
one cluster: the services of every cluster named in the file are deployed to it, through
its OSCAR face, which refuses by name what it does not serve."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sluice.client import Client, ClientError


def is_fdl(document: Any) -> bool:
    return isinstance(document, Mapping) and isinstance(document.get("functions"), Mapping) \
        and "oscar" in document["functions"]


def services(document: Mapping, fdl_file: Path) -> list[dict[str, Any]]:
    """The services of an FDL document, each with its script read in."""
    entries = document["functions"]["oscar"]
    if not isinstance(entries, list) or not entries:
        raise ClientError("functions.oscar must be a list of {cluster: service}")
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not entry:
            raise ClientError(f"functions.oscar.{index} must be {{cluster: service}}")
        for cluster, service in entry.items():
            if not isinstance(service, Mapping):
                raise ClientError(f"functions.oscar.{index}.{cluster} must be a service")
            found.append(_completed(dict(service), document, fdl_file))
    return found


def _completed(service: dict[str, Any], document: Mapping, fdl_file: Path) -> dict[str, Any]:
    script = service.get("script")
    if isinstance(script, str) and script:
        path = Path(script) if Path(script).is_absolute() else fdl_file.parent / script
        try:
            service["script"] = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise ClientError(f"cannot read the script {str(path)!r} of service "
                              f"{service.get('name')!r}: {getattr(error, 'strerror', error)}"
                              ) from None
    for shared in ("storage_providers", "clusters"):
        if document.get(shared) is not None:
            service[shared] = document[shared]
    return service


def apply(client: Client, document: Mapping, fdl_file: Path) -> list[tuple[dict, bool]]:
    """Create or update each service; the answers, and whether each was created."""
    results = []
    for service in services(document, fdl_file):
        name = service.get("name")
        if not isinstance(name, str) or not name:
            raise ClientError("every service needs a name")
        try:
            response = client.request(
                "PUT", f"/system/services/{urllib.parse.quote(name, safe='')}",
                body=json.dumps(service, default=str).encode(),
                headers={"Content-Type": "application/json"})
        except ClientError as error:
            raise ClientError(f"service {name!r}: {error}") from None
        results.append((response.json(), response.status == 201))
    return results
