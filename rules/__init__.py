"""owui-lint's rules, one module per family. Every `LintRule` subclass here is discovered."""
