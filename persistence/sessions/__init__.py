"""Session records, single-writer leases, the audit trail and the run journal."""
