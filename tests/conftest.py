"""Test configuration: one plugin per real service the tests talk to."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.rabbitmq",
    "tests.fixtures.postgres",
    "tests.fixtures.seaweed",
    "tests.fixtures.stack",
    "tests.fixtures.podman",
    "tests.fixtures.store",
    "tests.fixtures.kubelet",
    "tests.fixtures.inprocess",
    "tests.fixtures.attempts",
]
