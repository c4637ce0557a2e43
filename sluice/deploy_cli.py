"""`sluice deploy -f` (and `apply -f`): the functions of a deployment file, or the services
of an OSCAR FDL file (`sluice.fdl`)."""

from __future__ import annotations

import json

import yaml

from sluice import fdl
from sluice.client import Client, ClientError


def deploy(args, client: Client) -> None:
    try:
        document = _read(args.file.read_text())
    except OSError as error:
        raise ClientError(f"cannot read {args.file}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ClientError(f"{args.file} is not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ClientError(f"{args.file} must hold a function or `functions: {{name: spec}}`")
    if fdl.is_fdl(document):
        return _apply_fdl(args, client, document)
    specs = document["functions"] if "functions" in document else {document.get("name"): document}
    if not isinstance(specs, dict):
        raise ClientError("`functions` must map names to specs")
    results = []
    for name, spec in specs.items():
        if not isinstance(name, str) or not name:
            raise ClientError("every function needs a name")
        # As YAML, as it was read: what YAML alone can say (a bare `on:` key, read as true)
        # reaches the gateway as it was written.
        response = client.request("PUT", f"/v1/functions/{name}",
                                  body=yaml.dump(spec, Dumper=_Unaliased).encode(),
                                  headers={"Content-Type": "application/yaml"})
        fn = response.json()
        results.append(fn)
        if not args.json:
            verb = "created" if response.status == 201 else "updated"
            print(f"{name}: {verb} (revision {fn['revision']})")
    if args.json:
        print(json.dumps(results, indent=2))


def _read(text: str):
    """The file's document. One that PyYAML refuses only for tabs ending its lines (which
    OSCAR's own examples hold, and oscar-cli's YAML reader takes) is read without them."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        trimmed = "\n".join(line.rstrip("\t ") for line in text.splitlines())
        if trimmed == text:
            raise
    return yaml.safe_load(trimmed)


def _apply_fdl(args, client: Client, document: dict) -> None:
    applied = fdl.apply(client, document, args.file)
    if args.json:
        print(json.dumps([service for service, _ in applied], indent=2))
        return
    for service, created in applied:
        print(f"{service['name']}: {'created' if created else 'updated'} (OSCAR service)")


class _Unaliased(yaml.SafeDumper):
    """Every value written out in full: the gateway accepts no YAML aliases."""

    def ignore_aliases(self, data) -> bool:
        return True
