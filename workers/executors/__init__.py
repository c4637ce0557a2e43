"""Executors run one attempt of a job: a local process, a container or a Kubernetes Job."""
