"""FDL files read as oscar-cli reads them: `ReadFDL` in grycap/oscar-cli's
pkg/service/service.go (lines 51-92 at 78e73f6) embeds each script, read beside the file
(`getScriptPath`, line 339), and the file's storage_providers and clusters."""

import pytest

from sluice import fdl
from sluice.client import ClientError
from sluice.deploy_cli import _read

FDL = """\
functions:
  oscar:
  - oscar-cluster:
      name: grayify
      script: script.sh
      log_level: CRITICAL\t\t
  - other-cluster:
      name: second
      script: {absolute}
storage_providers:
  minio:
    edge: {{endpoint: "https://edge.example"}}
"""


def test_scripts_are_read_beside_the_file_or_where_an_absolute_path_says(tmp_path):
    (tmp_path / "script.sh").write_text("echo relative\n")
    absolute = tmp_path / "elsewhere.sh"
    absolute.write_text("echo absolute\n")
    path = tmp_path / "deploy.yaml"
    path.write_text(FDL.format(absolute=absolute))
    document = _read(path.read_text())
    assert fdl.is_fdl(document)
    first, second = fdl.services(document, path)
    assert (first["script"], second["script"]) == ("echo relative\n", "echo absolute\n")
    assert first["log_level"] == "CRITICAL", "the tabs ending its line are not its value"
    assert second["storage_providers"] == {"minio": {"edge": {"endpoint": "https://edge.example"}}}


def test_a_script_that_cannot_be_read_is_named(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text(FDL.format(absolute=tmp_path / "missing.sh"))
    with pytest.raises(ClientError, match="script.sh.*grayify"):
        fdl.services(_read(path.read_text()), path)


def test_native_deployment_files_are_not_taken_for_fdl():
    assert not fdl.is_fdl({"functions": {"hello": {"script": "echo"}}})
    assert not fdl.is_fdl({"name": "hello", "script": "echo"})
