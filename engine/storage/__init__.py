"""L2 adapter: internal storage (files under ``kestra://`` URIs). See ``base.py`` for the contract."""
