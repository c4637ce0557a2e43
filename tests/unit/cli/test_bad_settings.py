"""Bad settings stop a command with one line on stderr and exit 1, never a traceback."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("command, variable, value, message", [
    (["gateway"], "SLUICE_PORT", "abc", "SLUICE_PORT must be a number, not 'abc'"),
    (["worker"], "SLUICE_WORKER_THREADS", "many", "SLUICE_WORKER_THREADS must be a number"),
    (["up"], "SLUICE_PORT", "70000", "SLUICE_PORT must be a TCP port number, not '70000'"),
    (["listener"], "SLUICE_LOG_LEVEL", "loud", "SLUICE_LOG_LEVEL must be one of DEBUG, INFO"),
    (["worker"], "SLUICE_RETENTION", "forever", "SLUICE_RETENTION must be a duration such as"),
    (["worker"], "SLUICE_RETENTION", "0", "SLUICE_RETENTION must be more than 0"),
])
def test_a_bad_setting_is_one_clear_line(tmp_path, command, variable, value, message):
    env = dict(os.environ, SLUICE_DATA_DIR=str(tmp_path), **{variable: value})
    result = subprocess.run([sys.executable, "-m", "sluice.cli", *command], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("sluice: ")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["up"], ["gateway"], ["worker"], ["listener"]])
def test_a_mistyped_config_file_is_one_clear_line(tmp_path, command):
    config = tmp_path / "sluice.toml"
    config.write_text("worker_thread = 4\n")
    env = dict(os.environ, SLUICE_DATA_DIR=str(tmp_path), SLUICE_CONFIG=str(config))
    result = subprocess.run([sys.executable, "-m", "sluice.cli", *command], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"sluice: {config}: unknown setting 'worker_thread'; "
                                      "did you mean 'worker_threads'?")
    # Refused before anything started: `sluice up` left no S3 server behind.
    assert not (tmp_path / "seaweedfs").exists()
