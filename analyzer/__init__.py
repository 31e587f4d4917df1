"""owui-lint: the engine, CLI, configuration and reporters."""
