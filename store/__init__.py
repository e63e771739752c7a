"""The database: the engine, every table model, the migrations and the repositories that read and write them.

The lowest layer that touches the database (tools/ below it does pure I/O). Nothing here imports retrieval, agent
or api: they come to the store, never the other way round."""
