import pytest

from core.errors import Invalid
from core.settings import Settings


def test_defaults_run_on_one_machine(tmp_path):
    settings = Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path)})
    assert settings.port == 8080 and settings.host == "127.0.0.1"
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'sluice.db'}"
    assert settings.max_body == 64 * 1024**2


def test_admin_token_comes_from_the_data_dir_when_not_in_the_environment(tmp_path):
    (tmp_path / "admin-token").write_text("from-file\n")
    settings = Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path)})
    assert settings.admin_token.reveal() == "from-file"
    env = {"SLUICE_DATA_DIR": str(tmp_path), "SLUICE_ADMIN_TOKEN": "from-env"}
    assert Settings.from_env(env).admin_token.reveal() == "from-env"


def test_secrets_never_show_in_repr(tmp_path):
    settings = Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path), "SLUICE_ADMIN_TOKEN": "hunter2",
                                  "SLUICE_S3_SECRET_KEY": "s3cr3t", "SLUICE_S3_ACCESS_KEY": "ak"})
    text = repr(settings)
    assert "hunter2" not in text and "s3cr3t" not in text


@pytest.mark.parametrize("value, expected", [("65536", 65536), ("512KiB", 512 * 1024),
                                             ("64MiB", 64 * 1024**2), ("1g", 1024**3)])
def test_max_body_takes_sizes(tmp_path, value, expected):
    env = {"SLUICE_DATA_DIR": str(tmp_path), "SLUICE_MAX_BODY": value}
    assert Settings.from_env(env).max_body == expected


@pytest.mark.parametrize("name, value", [("SLUICE_MAX_BODY", "huge"), ("SLUICE_PORT", "http"),
                                         ("SLUICE_WORKER_THREADS", "-1")])
def test_bad_settings_are_refused_with_the_variable_named(tmp_path, name, value):
    with pytest.raises(Invalid, match=name):
        Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path), name: value})
