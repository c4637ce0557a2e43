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
                                         ("SLUICE_WORKER_THREADS", "-1"),
                                         ("SLUICE_S3_PUBLIC_URL", "s3.example.org")])
def test_bad_settings_are_refused_with_the_variable_named(tmp_path, name, value):
    with pytest.raises(Invalid, match=name):
        Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path), name: value})


def test_clients_are_given_the_public_store_address_where_one_is_set(tmp_path):
    inside = Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path),
                                "SLUICE_S3_URL": "http://minio.sluice:9000"})
    assert inside.s3.client_url == "http://minio.sluice:9000"
    public = Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path),
                                "SLUICE_S3_URL": "http://minio.sluice:9000",
                                "SLUICE_S3_PUBLIC_URL": "https://s3.example.org"})
    assert public.s3.client_url == "https://s3.example.org"


def test_a_config_file_sets_what_the_environment_does_not(tmp_path):
    config = tmp_path / "sluice.toml"
    config.write_text('database_url = "postgresql://sluice@db/sluice"\n'
                      'worker_threads = 16\nsync_wait = 2.5\nport = 9000\n')
    env = {"SLUICE_DATA_DIR": str(tmp_path), "SLUICE_CONFIG": str(config), "SLUICE_PORT": "8081"}
    settings = Settings.from_env(env)
    assert settings.database_url == "postgresql://sluice@db/sluice"
    assert settings.worker.threads == 16 and settings.sync_wait_seconds == 2.5
    assert settings.port == 8081


@pytest.mark.parametrize("text, message", [
    ('worker_thread = 4\n', "unknown setting 'worker_thread'; did you mean 'worker_threads'?"),
    ('[s3]\nurl = "http://s3"\n', "s3 must be a string, a number or a boolean"),
    ('port = \n', "is not valid TOML"),
    ('worker_threads = "many"\n', "SLUICE_WORKER_THREADS must be a number"),
])
def test_a_bad_config_file_is_refused_with_what_is_wrong(tmp_path, text, message):
    config = tmp_path / "sluice.toml"
    config.write_text(text)
    with pytest.raises(Invalid) as refused:
        Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path), "SLUICE_CONFIG": str(config)})
    assert message in refused.value.detail


def test_a_missing_config_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(Invalid, match=f"SLUICE_CONFIG names {missing}, which cannot be read"):
        Settings.from_env({"SLUICE_CONFIG": str(missing)})


def test_secrets_from_a_config_file_stay_out_of_repr(tmp_path):
    config = tmp_path / "sluice.toml"
    config.write_text('admin_token = "hunter2"\ns3_secret_key = "s3cr3t"\n')
    settings = Settings.from_env({"SLUICE_DATA_DIR": str(tmp_path), "SLUICE_CONFIG": str(config)})
    assert settings.admin_token.reveal() == "hunter2"
    assert "hunter2" not in repr(settings) and "s3cr3t" not in repr(settings)
