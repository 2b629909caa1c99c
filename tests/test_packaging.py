"""The wheel installs everything under ``tiergate.*`` and ships the default manifest and examples."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path


def test_wheel_file_list(tmp_path: Path, repo_root: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo_root), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True)
    (wheel,) = tmp_path.glob("tiergate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"tiergate"}
    for generic in ("plugin", "connectors", "nlp", "jobs", "localdesk", "runtime"):
        assert generic not in top, f"{generic}/ must not be a top-level package"
        assert f"tiergate/{generic}/__init__.py" in names
    for needed in ("tiergate/plugin/core/model.py", "tiergate/jobs/process.py",
                   "tiergate/connectors/base.py", "tiergate/plugin/data/manifest.json", "tiergate/runtime/config.py",
                   "tiergate/localdesk/zendesk/server.py", "tiergate/localdesk/zammad/server.py",
                   "tiergate/plugin/data/tickets.jsonl", "tiergate/plugin/openapi.json",
                   "tiergate/nlp/default_keywords.json",
                   "tiergate/plugin/analytics/templates/dashboard.html"):
        assert needed in names, needed
    # the compiled modules (signals scan, ASCII amount finder), built for this interpreter
    for module in ("_signals", "_amounts"):
        assert [n for n in names if n.startswith(f"tiergate/nlp/{module}.") and
                n.endswith((".so", ".pyd"))], f"the compiled {module} is missing"
    # the shipped manifest (the demo's site file) is the real file's content, not a dangling
    # link, next to the defaults it extends
    with zipfile.ZipFile(wheel) as zf:
        shipped = json.loads(zf.read("tiergate/plugin/data/manifest.json"))
        defaults = json.loads(zf.read("tiergate/plugin/data/default_manifest.json"))
    assert shipped == json.loads((repo_root / "manifest.json").read_text())
    assert shipped["extends"] == "tiergate:default"
    assert defaults == json.loads((repo_root / "plugin/data/default_manifest.json").read_text())
    entry = [n for n in names if n.endswith("entry_points.txt")]
    with zipfile.ZipFile(wheel) as zf:
        assert "tiergate = tiergate.plugin.cli:main" in zf.read(entry[0]).decode()
