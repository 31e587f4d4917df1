"""owui-lint: the engine, CLI, configuration and reporters."""

# The one place the version is written (pyproject.toml reads it): asking importlib.metadata
# instead costs about 8 ms at every start.
__version__ = "0.1.0"
