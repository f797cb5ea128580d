"""Plan review of a change: what it adds, changes and removes, what it costs and risks, drawn."""
