"""Sessions: the runtime and its loop portal, the manager, a session and its runs, access,
budgets and replies."""
