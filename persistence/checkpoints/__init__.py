"""The checkpointer: SQLAlchemySaver and its reads, writes, statements, codec and cache."""
