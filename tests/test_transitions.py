"""The timeline keeps the scheduler's batches as they come and knows statuses in two
generations; what it shows must be what recording each transition as it came would show."""
from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from cancelgate.mock.transitions import Transitions

SIZE = 5


class Eager:
    """Every transition recorded as it comes; every status known (no bound)."""

    def __init__(self):
        self.entries, self.known, self.seq, self.touched = deque(maxlen=SIZE), {}, 0, []

    def remember(self, table, key, status):
        before = self.known.get((table, key))
        self.known[(table, key)] = status
        self.touched.append((table, key))
        return before

    def append(self, entry):
        self.seq += 1
        self.entries.append({**entry, "seq": self.seq})

    def clock(self, family, table, changes):
        for c in changes:
            self.remember(table, str(c["id"]), c["to"])
            self.append({"at": c["at"], "family": family, "table": table, "id": str(c["id"]), "from": c["from"],
                         "to": c["to"], "source": "clock", "operationId": None})

    def request(self, at, family, table, key, status, op):
        before = self.remember(table, key, status)
        if before != status:
            self.append({"at": at, "family": family, "table": table, "id": key, "from": before, "to": status,
                         "source": "request", "operationId": op})

    def seen(self, table, key, status):
        if (table, key) not in self.known:
            self.remember(table, key, status)

    def recent(self, limit):
        return list(self.entries)[-limit:] if limit else []

    def forget(self):
        self.known.clear()

    def last_touched(self, count: int) -> set:
        found = []
        for doc in reversed(self.touched):
            if doc not in found:
                found.append(doc)
            if len(found) == count:
                break
        return set(found)


statuses = st.sampled_from(["A", "B", "C"])


def steps(keys, with_seen: bool):
    change = st.builds(lambda k, f, t, at: {"id": k, "from": f, "to": t, "at": at}, keys, statuses, statuses,
                       st.integers(0, 99))
    kinds = [st.tuples(st.just("clock"), st.sampled_from(["batch", "iot"]), st.lists(change, max_size=12)),
             st.tuples(st.just("request"), keys, statuses),
             st.tuples(st.just("recent"), st.integers(0, SIZE + 1)),
             st.tuples(st.just("forget"))]
    if with_seen:
        kinds.append(st.tuples(st.just("seen"), keys, statuses))
    return st.lists(st.one_of(*kinds), max_size=30)


def run(timeline, model, step, on_request=None, exact=True):
    if step[0] == "clock":
        for t in (timeline, model):
            t.clock(step[1], f"{step[1]}_table", step[2])
    elif step[0] == "request":
        # nothing is shown first: the request itself must put the pending batches before its entry
        numbered = timeline._sequence
        timeline.request(7, "batch", "batch_table", step[1], step[2], "Op")
        if on_request:
            after = timeline.recent(SIZE)
            on_request(after[-1] if after and after[-1]["seq"] > numbered else None)
        model.request(7, "batch", "batch_table", step[1], step[2], "Op")
    elif step[0] == "seen":
        for t in (timeline, model):
            t.seen("iot_table", step[1], step[2])
    elif step[0] == "recent":
        shown = timeline.recent(step[1])
        if exact:
            assert shown == model.recent(step[1])
    else:
        for t in (timeline, model):
            t.forget()


@settings(max_examples=300, deadline=None)
@given(steps(st.sampled_from("abcdefg"), with_seen=True))
def test_within_its_bound_the_timeline_shows_what_the_eager_one_would(script):
    timeline, model = Transitions(size=SIZE, known_size=20), Eager()   # 14 documents at most: all known
    for step in script:
        run(timeline, model, step)
    assert timeline.recent(SIZE) == model.recent(SIZE)


@settings(max_examples=300, deadline=None)
@given(steps(st.sampled_from("abcdefghijklmnop"), with_seen=False))
def test_beyond_its_bound_the_newest_documents_are_known_and_nothing_is_misremembered(script):
    known = 4
    timeline, model = Transitions(size=SIZE, known_size=known), Eager()
    for step in script:
        def check(recorded, step=step):
            truth = model.known.get(("batch_table", step[1]))
            if ("batch_table", step[1]) in model.last_touched(known):
                # one of the newest: handled exactly as with every status known
                assert (recorded is not None) == (truth != step[2])
                assert recorded is None or recorded["from"] == truth
            else:
                assert recorded is None or recorded["from"] in (None, truth)
        run(timeline, model, step, on_request=check, exact=False)   # entries differ where a status was forgotten
