"""Workers: Dramatiq actors that run jobs through an executor and record their outcome."""
