"""The counter contract in Redis: one Lua script per batch, so each ask is atomic and the
window logic runs on the server with the server's clock (``TIME``), the same for every
replica. Keys travel in ``KEYS`` (all share one ``{hash tag}`` so Redis Cluster keeps them on
one node); the asks travel as JSON in ``ARGV[1]`` and refer to keys by position.

Amounts are integers passed as strings: Lua numbers are doubles, exact below 2^53.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from router.store.counters import Ask, Draw, Lease, Level, Settlement, Skipped, Verdict

ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function level(d)
  local k = KEYS[d[1]]
  local used = tonumber(redis.call('GET', k) or '0')
  local ttl = redis.call('PTTL', k)
  if ttl < 0 then ttl = 0 end
  return used, ttl
end
local function held(l)
  local k = KEYS[l[1]]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  return redis.call('ZCARD', k)
end
-- group = {draws, leases}; draw = {key, limit, amount, window}; lease = {key, limit, holder, ttl}
local function check(group)
  local used, resets, blocked = {}, {}, 0
  for _, d in ipairs(group[1]) do
    local u, r = level(d)
    used[#used + 1] = u
    resets[#resets + 1] = r
    if blocked == 0 and u + tonumber(d[3]) > tonumber(d[2]) then
      blocked = #used
    end
  end
  for _, l in ipairs(group[2]) do
    local n = held(l)
    used[#used + 1] = n
    resets[#resets + 1] = 0
    if blocked == 0 and n + 1 > tonumber(l[2]) then blocked = #used end
  end
  return used, resets, blocked
end
-- Takes what the group asked for; notes each counter's state afterwards in `after` (by key,
-- so a key named twice reads its final state), sparing the reads of a second check.
local function apply(group, after)
  for _, d in ipairs(group[1]) do
    local k = KEYS[d[1]]
    local used = redis.call('INCRBY', k, d[3])
    local ttl = redis.call('PTTL', k)
    if tonumber(d[4]) > 0 and ttl == -1 then
      redis.call('PEXPIRE', k, d[4])
      ttl = tonumber(d[4])
    end
    if ttl < 0 then ttl = 0 end
    if after then after[k] = {used, ttl} end
  end
  for _, l in ipairs(group[2]) do
    local k = KEYS[l[1]]
    redis.call('ZADD', k, now + tonumber(l[4]), l[3])
    if redis.call('PTTL', k) < tonumber(l[4]) then redis.call('PEXPIRE', k, l[4]) end
    if after then after[k] = {redis.call('ZCARD', k), 0} end
  end
end
local function levels(group, after)
  local used, resets = {}, {}
  for _, g in ipairs(group) do
    for _, c in ipairs(g) do
      local a = after[KEYS[c[1]]]
      used[#used + 1] = a[1]
      resets[#resets + 1] = a[2]
    end
  end
  return used, resets
end
local out = {}
for i, ask in ipairs(cjson.decode(ARGV[#ARGV])) do
  -- ask = {draws, leases, options}
  local used, resets, blocked = check(ask)
  local res = {ok = 0, u = used, r = resets, b = blocked, o = 0, x = {}}
  if blocked == 0 then
    for j, option in ipairs(ask[3]) do
      local ou, orr, ob = check(option)
      if ob == 0 then
        res.o = j
        apply(option)
        break
      end
      res.x[#res.x + 1] = {j, ob, ou[ob], orr[ob]}
    end
    if #ask[3] == 0 or res.o > 0 then
      local after = {}
      apply(ask, after)
      res.ok = 1
      res.u, res.r = levels({ask[1], ask[2]}, after)
    end
  end
  out[i] = res
end
return cjson.encode(out)
"""

_SETTLE_EACH = """
-- per settlement: {once, ttl, adjusts, releases, adds}; once = 0 or a key position
-- adjusts = {key, delta, window, create}; releases = {key, holder}; adds = {key, field, n, ttl}
local timed = {}
for _, s in ipairs(cjson.decode(ARGV[1])) do
  if s[1] == 0 or redis.call('SET', KEYS[s[1]], 1, 'NX', 'PX', s[2]) then
    for _, a in ipairs(s[3]) do
      local k = KEYS[a[1]]
      if redis.call('EXISTS', k) == 1 then
        if redis.call('INCRBY', k, a[2]) < 0 then redis.call('SET', k, 0, 'KEEPTTL') end
      elseif a[4] == 1 and tonumber(a[2]) > 0 then
        if tonumber(a[3]) > 0 then
          redis.call('SET', k, a[2], 'PX', a[3])
        else
          redis.call('SET', k, a[2])
        end
      end
    end
    for _, r in ipairs(s[4]) do redis.call('ZREM', KEYS[r[1]], r[2]) end
    for _, f in ipairs(s[5]) do
      local k = KEYS[f[1]]
      redis.call('HINCRBY', k, f[2], f[3])
      if tonumber(f[4]) > 0 and not timed[k] then
        if redis.call('PTTL', k) == -1 then redis.call('PEXPIRE', k, f[4]) end
        timed[k] = true  -- it has its expiry now: the call's other adds need not look
      end
    end
  end
end
"""
SETTLE = _SETTLE_EACH + "return 1\n"
# Settlements (ARGV[1]) then admissions (ARGV[2]) in one round trip: what finished releases
# its slots and refunds its reservation before the admissions sent with it are checked.
EXCHANGE = _SETTLE_EACH + ADMIT

LEVELS = """
local out = {}
for i, k in ipairs(KEYS) do
  local ttl = redis.call('PTTL', k)
  if ttl < 0 then ttl = 0 end
  out[i] = {tonumber(redis.call('GET', k) or '0'), ttl}
end
return out
"""


class _Keys:
    """Positions of keys in ``KEYS`` (1-based, as Lua counts)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, key: str) -> int:
        found = self._index.get(key)
        if found is None:
            self.order.append(key)
            found = self._index[key] = len(self.order)
        return found


def _group(keys: _Keys, draws: Sequence[Draw], leases: Sequence[Lease]) -> list[Any]:
    return [
        [[keys(d.key), str(d.limit), str(d.amount), str(d.window_ms)] for d in draws],
        [[keys(le.key), str(le.limit), le.holder, str(le.ttl_ms)] for le in leases],
    ]


def encode_asks(asks: Sequence[Ask], keys: _Keys | None = None) -> tuple[list[str], bytes]:
    keys = _Keys() if keys is None else keys
    body = [
        [*_group(keys, a.draws, a.leases), [_group(keys, o.draws, o.leases) for o in a.options]]
        for a in asks
    ]
    return keys.order, orjson.dumps(body)


def decode_verdicts(raw: bytes | str) -> list[Verdict]:
    out = []
    for res in orjson.loads(raw):
        # cjson encodes an empty Lua table as {}: treat it as an empty list.
        used, resets, skipped = (res[k] or [] for k in ("u", "r", "x"))
        levels = tuple(Level(int(u), int(r)) for u, r in zip(used, resets, strict=True))
        out.append(
            Verdict(
                admitted=res["ok"] == 1,
                levels=levels,
                blocked=res["b"] - 1 if res["b"] else None,
                option=res["o"] - 1 if res["o"] else None,
                skipped=tuple(
                    Skipped(int(j) - 1, int(item) - 1, Level(int(u), int(r)))
                    for j, item, u, r in skipped
                ),
            )
        )
    return out


def encode_settlements(
    settlements: Sequence[Settlement], keys: _Keys | None = None
) -> tuple[list[str], bytes]:
    keys = _Keys() if keys is None else keys
    body = [
        [
            keys(s.once) if s.once else 0,
            str(s.once_ttl_ms),
            [[keys(a.key), str(a.delta), str(a.window_ms), int(a.create)] for a in s.adjusts],
            [[keys(r.key), r.holder] for r in s.releases],
            [[keys(f.key), f.field, str(f.amount), str(f.ttl_ms)] for f in s.adds],
        ]
        for s in settlements
    ]
    return keys.order, orjson.dumps(body)


def encode_exchange(
    settlements: Sequence[Settlement], asks: Sequence[Ask]
) -> tuple[list[str], bytes, bytes]:
    """Both bodies over one ``KEYS`` list, for ``EXCHANGE``."""
    keys = _Keys()
    _, settled = encode_settlements(settlements, keys)
    _, asked = encode_asks(asks, keys)
    return keys.order, settled, asked
