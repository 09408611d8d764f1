"""Strategies: the public base, parameters, the built-ins, user files, and their deployments."""
