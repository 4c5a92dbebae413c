"""Array children are stored as what differs from their parent, and shown as before.

tests/data/array_child_views.json was recorded (tests/array_views.py) from the server of commit
c05ffee, which stored every child as a full copy of its parent: DescribeJobs, ListJobs and
ListTagsForResource of the children must still answer exactly that."""
from __future__ import annotations

import json
from pathlib import Path

from array_views import scenario

GOLDEN = Path(__file__).parent / "data" / "array_child_views.json"


def test_children_show_what_full_copies_showed(live, batch):
    assert scenario(batch, live.url) == json.loads(GOLDEN.read_text())
