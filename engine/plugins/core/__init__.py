"""L1 pure core: Podium's built-in plugin types, Kestra's ``io.kestra.plugin.core.*``.

Every module of this package exposes ``SPECS: list[PluginSpec]``; ``engine.plugins.registry``
discovers them all, so adding a module here is enough to register its types.
"""
