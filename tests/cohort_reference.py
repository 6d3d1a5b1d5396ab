"""The cohort metrics in plain Python, written from their definitions.

Independent of ``reportupdater.cohorts``: it reads the ``World`` rows of
``cohort_data`` and loops over users and revisions one at a time, as a
person would check the definitions by hand. ``values`` gives each user's
value and null reason; ``aggregates`` the cohort's aggregate columns.
"""

from __future__ import annotations

import datetime as dt
import statistics

from cohort_data import EMPTY_SHA1, TS, World

INFINITE = {"infinite", "indefinite", "infinity", "never"}
WINDOWED = {"edit_count", "pages_created", "bytes_added", "namespace_of_edits",
            "revert_rate", "blocks"}
REGISTRATION_ONLY = {"threshold", "survival", "live_account"}


def _moment(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TS)


def _plus(text: str, **delta: float) -> str:
    return (_moment(text) + dt.timedelta(**delta)).strftime(TS)


def _php_duration(params: str) -> str | None:
    """The ``5::duration`` of serialised block parameters, or a legacy first line."""
    if not params.startswith("a:"):
        return params.split("\n")[0]
    # a:N:{s:LEN:"key";s:LEN:"value";...}
    body = params[params.index("{") + 1:]
    items = []
    while body.startswith("s:"):
        length_end = body.index(":", 2)
        length = int(body[2:length_end])
        raw = body[length_end + 2:].encode()
        items.append(raw[:length].decode())
        body = raw[length + 2:].decode()
    pairs = dict(zip(items[::2], items[1::2]))
    return pairs.get("5::duration")


class Reference:
    def __init__(self, world: World):
        self.world = world
        self.users = {u.user_id: u for u in world.users}
        self.actor_of = {a.user_id: a.actor_id for a in world.actors if a.user_id is not None}
        self.namespace = {p.page_id: p.namespace for p in world.pages}

    def source(self, include_deleted: bool):
        return [r for r in self.world.revisions if include_deleted or not r.deleted]

    def revisions_of(self, user_id, include_deleted, namespaces):
        actor = self.actor_of.get(user_id)
        return sorted(
            (r for r in self.source(include_deleted) if r.actor_id == actor
             and (namespaces is None or self.namespace[r.page_id] in namespaces)),
            key=lambda r: (r.timestamp, r.rev_id))

    def values(self, metric: str, user_ids, *, window="registration", t=None, start=None,
               end=None, namespaces=(0,), include_deleted=False, n=1, a=1, b=2, k=15):
        """user_id -> (value, reason); ``namespaces`` None means all."""
        if t is None:
            t = 60 if metric == "live_account" else 24
        revs_by_actor: dict[int, list] = {}
        for r in self.source(include_deleted):
            revs_by_actor.setdefault(r.actor_id, []).append(r)
        pages: dict[int, list] = {}
        for r in self.source(include_deleted):
            pages.setdefault(r.page_id, []).append(r)
        for history in pages.values():
            history.sort(key=lambda r: (r.timestamp, r.rev_id))
        lengths = {r.rev_id: r.length for r in self.source(include_deleted)}
        result = {}
        for user_id in user_ids:
            user = self.users.get(user_id)
            if user is None:
                result[user_id] = (None, "no such user")
                continue
            reg = user.registration
            needs_registration = (metric in REGISTRATION_ONLY
                                  or (metric in WINDOWED and window == "registration"))
            if needs_registration and reg is None:
                result[user_id] = (None, "no registration date")
                continue
            if window == "registration":
                w_start, w_end = reg, (_plus(reg, hours=t) if reg else None)
            else:
                w_start, w_end = start, end
            mine = sorted(revs_by_actor.get(self.actor_of.get(user_id), []),
                          key=lambda r: (r.timestamp, r.rev_id))
            in_ns = [r for r in mine
                     if namespaces is None or self.namespace[r.page_id] in namespaces]
            in_window = [r for r in in_ns if w_start is not None
                         and w_start <= r.timestamp < w_end]

            if metric == "edit_count":
                value = len(in_window)
            elif metric == "pages_created":
                value = sum(1 for r in in_window if r.parent_id == 0)
            elif metric == "bytes_added":
                diffs = []
                for r in in_window:
                    parent_len = 0
                    if r.parent_id:
                        parent_len = lengths.get(r.parent_id) or 0
                    diffs.append((r.length or 0) - parent_len)
                value = {"net": sum(diffs), "absolute": sum(abs(d) for d in diffs),
                         "positive": sum(d for d in diffs if d > 0),
                         "negative": sum(d for d in diffs if d < 0), "count": len(diffs)}
            elif metric == "namespace_of_edits":
                value = {}
                for r in mine:
                    if w_start <= r.timestamp < w_end:
                        ns = self.namespace[r.page_id]
                        value[ns] = value.get(ns, 0) + 1
            elif metric == "threshold":
                end_t = _plus(reg, hours=t)
                count = sum(1 for r in in_ns if reg < r.timestamp <= end_t)
                value = 1 if count >= n else 0
            elif metric == "survival":
                after = _plus(reg, hours=t)
                value = 1 if any(r.timestamp > after for r in in_ns) else 0
            elif metric == "live_account":
                limit = _plus(reg, minutes=t)
                value = 1 if in_ns and reg <= in_ns[0].timestamp <= limit else 0
            elif metric == "time_to_threshold":
                if len(in_ns) < b:
                    result[user_id] = (None, f"fewer than {b} revisions")
                    continue
                seconds = (_moment(in_ns[b - 1].timestamp)
                           - _moment(in_ns[a - 1].timestamp)).total_seconds()
                value = int(seconds // 60)
            elif metric == "revert_rate":
                if not in_window:
                    result[user_id] = (None, "no revisions in the window")
                    continue
                reverted = 0
                for r in in_window:
                    history = pages[r.page_id]
                    i = next(j for j, h in enumerate(history) if h.rev_id == r.rev_id)
                    before = {h.sha1 for h in history[max(0, i - k):i]}
                    if r.parent_id == 0:
                        before.add(EMPTY_SHA1)
                    after = history[i + 1:i + 1 + k]
                    if any(h.sha1 in before for h in after):
                        reverted += 1
                value = reverted / len(in_window)
            elif metric == "blocks":
                title = user.user_name.replace(" ", "_")
                blocks = [e for e in self.world.logging
                          if e.type == "block" and e.action in ("block", "reblock")
                          and e.namespace == 2 and e.title == title
                          and w_start <= e.timestamp < w_end]
                value = {"count": len(blocks),
                         "first": min((e.timestamp for e in blocks), default=None),
                         "ban": int(any(_php_duration(e.params) in INFINITE
                                        for e in blocks))}
            else:
                raise ValueError(metric)
            result[user_id] = (value, None)
        return result


BOOLEAN = {"threshold", "survival", "live_account"}
FIELDS = {"bytes_added": ("net", "absolute", "positive", "negative", "count"),
          "blocks": ("count", "ban")}


def _numbers(values):
    if not values:
        return {"sum": 0, "mean": None, "median": None, "min": None, "max": None}
    return {"sum": sum(values), "mean": sum(values) / len(values),
            "median": statistics.median(values), "min": min(values), "max": max(values)}


def aggregates(metric: str, values: dict) -> dict:
    """The cohort's aggregate columns from ``values`` (user_id -> (value, reason))."""
    present = [v for v, _ in values.values() if v is not None]
    out = {"users": len(present), "missing": len(values) - len(present)}
    if metric in BOOLEAN:
        out["true"] = sum(present)
        out["rate"] = out["true"] / len(present) if present else None
    elif metric == "namespace_of_edits":
        total: dict[int, int] = {}
        for mapping in present:
            for ns, count in mapping.items():
                total[ns] = total.get(ns, 0) + count
        out["sum"] = dict(sorted(total.items()))
    elif metric in FIELDS:
        for name in FIELDS[metric]:
            column = [v[name] for v in present]
            if metric == "blocks" and name == "ban":
                out["ban_true"] = sum(column)
                out["ban_rate"] = sum(column) / len(column) if column else None
            else:
                for agg, value in _numbers(column).items():
                    out[f"{name}_{agg}"] = value
    else:
        out.update(_numbers(present))
    return out
