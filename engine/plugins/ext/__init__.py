"""L1 pure core: plugin types beyond Kestra's core (scripts, JDBC, notifications, task runners).

Every module of this package exposes ``SPECS: list[PluginSpec]``. Types whose execution a later
release brings are registered with ``implemented=False``: flows using them validate, and running
one fails with "not implemented yet".
"""
