"""The database backend of the ``replica_N`` aliases (see ``base``)."""
