"""``nlp.history``: how far a resolved ticket was escalated, from its group path and the
embedded manifest (101 tier 1, 102 tier 2, 103 tier 3, 104 management, 110 finance rank 2)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tiergate.nlp.history import escalation_level, group_path, history_record
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.core.model import Change, Comment, Ticket

AT = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(default_manifest_path())


def _ticket(groups, status="solved", comments=("my export fails",)):
    changes = tuple(Change(AT, "group_id", str(a), str(b)) for a, b in zip(groups, groups[1:]))
    return Ticket(id=7, subject="", description=comments[0], status=status, priority="normal",
                  type=None, group_id=groups[-1], assignee_id=None, requester_id=5,
                  organization_id=None, tags=(), channel="email", created_at=AT, updated_at=AT,
                  comments=tuple(Comment(id=i, author_id=5, body=c, public=True, created_at=AT,
                                         author_role="end-user")
                                 for i, c in enumerate(comments)),
                  changes=changes)


@pytest.mark.parametrize("groups,level", [
    ([101], 0), ([101, 102], 1), ([101, 103], 1), ([101, 104], 2), ([101, 102, 103, 104], 2),
    ([102, 101], 0), ([101, 110], 1), ([110, 101], 0), ([110, 103], 1), ([101, 999, 101], 0),
    ([999, 102], 0), ([104, 101, 104], 0),
])
def test_escalation_level(manifest, groups, level):
    assert escalation_level(_ticket(groups), manifest) == level


def test_group_path_reads_the_audits_and_skips_repeats():
    assert group_path(_ticket([101, 101, 102, 102, 104])) == [101, 102, 104]
    assert group_path(_ticket([103])) == [103]


def test_history_record_only_for_resolved_tickets(manifest):
    assert history_record(_ticket([101, 102], status="open"), manifest) is None
    rec = history_record(_ticket([101, 104], status="closed", comments=("a", "b")), manifest)
    assert rec == {"id": 7, "comments": ["a", "b"], "label": True, "level": 2}
