"""The HTTP service over one index: JSON API, the search page and the widget (:func:`.app.create_app`).

Uses the read path (``search``) for queries and the write path (``indexing``) for POST/DELETE; the
portal features (feeds, rate limit, metrics, analytics, index switch) are wired in by :mod:`.portal`.
"""
