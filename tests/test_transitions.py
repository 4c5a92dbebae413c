"""The timeline applies the scheduler's batches lazily; what it shows and remembers must be what
applying each transition as it came would give (the model below)."""
from __future__ import annotations

from collections import OrderedDict, deque

from hypothesis import given, settings
from hypothesis import strategies as st

from cancelgate.mock.transitions import Transitions

SIZE, KNOWN = 5, 4


class Eager:
    def __init__(self):
        self.entries, self.known, self.seq = deque(maxlen=SIZE), OrderedDict(), 0

    def remember(self, table, key, status):
        before = self.known.pop((table, key), None)
        self.known[(table, key)] = status
        while len(self.known) > KNOWN:
            self.known.popitem(last=False)
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


keys, statuses = st.sampled_from("abcdefg"), st.sampled_from(["A", "B", "C"])
change = st.builds(lambda k, f, t, at: {"id": k, "from": f, "to": t, "at": at}, keys, statuses, statuses,
                   st.integers(0, 99))
step = st.one_of(
    st.tuples(st.just("clock"), st.sampled_from(["batch", "iot"]), st.lists(change, max_size=12)),
    st.tuples(st.just("request"), keys, statuses),
    st.tuples(st.just("seen"), keys, statuses),
    st.tuples(st.just("recent"), st.integers(0, SIZE + 1)),
    st.tuples(st.just("forget")))


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=25))
def test_the_lazy_timeline_shows_and_remembers_what_the_eager_one_would(steps):
    lazy, eager = Transitions(size=SIZE, known_size=KNOWN), Eager()
    for s in steps:
        if s[0] == "clock":
            table = f"{s[1]}_table"
            lazy.clock(s[1], table, s[2])
            eager.clock(s[1], table, s[2])
        elif s[0] == "request":
            lazy.request(7, "batch", "batch_table", s[1], s[2], "Op")
            eager.request(7, "batch", "batch_table", s[1], s[2], "Op")
        elif s[0] == "seen":
            lazy.seen("iot_table", s[1], s[2])
            eager.seen("iot_table", s[1], s[2])
        elif s[0] == "recent":
            assert lazy.recent(s[1]) == eager.recent(s[1])
        else:
            lazy.forget()
            eager.forget()
    assert lazy.recent(SIZE) == eager.recent(SIZE)
    lazy.recent(0)   # applies what is pending
    assert lazy._known == eager.known
