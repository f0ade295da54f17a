"""Sessions: the manager, one session's runs, access, budgets, typed events and replies."""
