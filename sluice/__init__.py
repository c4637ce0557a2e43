"""The `sluice` command, its HTTP client, and the one-machine stack behind `sluice up`."""
