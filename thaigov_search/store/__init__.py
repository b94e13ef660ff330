"""The index directory: the only code that speaks SQL and knows the index's file names.

Schema, manifest, vector snapshots, the writer's transactions, the reader's delta replay and the
named queries the read path needs; the search-analytics file and online backups / the index switch.
Imports only ``core``.
"""
