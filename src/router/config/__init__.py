"""Configuration: YAML with source positions (``yamlsrc``), the files read and merged by section
into located entries (``raw``), the raw section schema (``schema``), the catalog of models and
deployments (``catalog``), the one loader that turns ``policies/`` into a frozen ``Config``
(``load``) and the checker behind ``router check`` (``check``).

May import: ``shapes``, ``errors``, ``wire``, and ``policy`` (to build and lint policies). Does
no network I/O; reads files only.
"""
