"""Flow analyses shared by the rules: control-flow graphs, guards, taint."""
