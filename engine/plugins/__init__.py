"""L1 pure core: plugin types (tasks, triggers, conditions) and the registry that finds them."""
