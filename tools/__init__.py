"""Tools that touch the outside world: document parsers, arXiv, paper acquisition.

Nothing in this package reads settings or the environment: every function takes explicit arguments.
"""
