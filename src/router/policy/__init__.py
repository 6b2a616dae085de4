"""Policy: pure routing. ``classify`` turns a request into features, ``decide`` picks and orders
deployments from the policies, the catalog and a signal snapshot, ``decision`` is its typed
result and its explanation; ``model`` holds the policy objects, ``spec`` their YAML schema, and
``build`` makes the one from the other.

May import: ``shapes``, ``errors``, ``wire``, ``config`` types and ``signals`` snapshots. Never
any I/O: no upstream, dispatch, store, cache, api, aiohttp, redis or litellm (checked by
import-linter in CI).
"""
