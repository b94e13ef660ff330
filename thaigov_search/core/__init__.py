"""Bottom layer: what both the write path and the read path use.

Settings, the article records, Thai text handling, the search modes and embedding backends, and
small file-system helpers. Imports nothing from the rest of the package.
"""
