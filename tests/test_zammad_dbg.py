import json
from pathlib import Path
import pytest
EX = {r["external_id"]: r for r in map(json.loads, (Path(__file__).resolve().parent.parent / "examples" / "tickets.jsonl").read_text().splitlines())}

@pytest.mark.parametrize("stack", ["zammad"], indirect=True)
def test_dbg(stack):
    tid = stack.import_and_wait_for_job(EX["demo-outage"])
    stack.work()
    t = stack.connector().fetch_ticket(tid)
    for c in t.comments:
        if not c.public: print("NOTE", c.created_at, c.body[:90].replace(chr(10)," "), "...", c.body[-30:].replace(chr(10)," "))
    print("TAGS", t.tags, t.group_id, t.assignee_id, t.priority)
    for r in stack.desk.handle.requests():
        print(r["method"], r["path"], r["status"])
    print([ (d["trigger"], d["status"]) for d in stack.desk.handle.wait_deliveries()])
    from rq.registry import FailedJobRegistry
    from rq.job import Job
    from rq.serializers import JSONSerializer
    for jid in FailedJobRegistry(queue=stack.queue).get_job_ids():
        j = Job.fetch(jid, connection=stack.conn, serializer=JSONSerializer)
        print("FAILED", j.latest_result().exc_string[-3000:])
    print("QUEUED", stack.queue.count)
    assert 0
