"""The JSON Schema the manifest's ``$schema`` points at is the one ``tiergate schema`` generates."""
import json

from click.testing import CliRunner

from tiergate.plugin.cli import main


def test_checked_in_schema_is_current(repo_root):
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((repo_root / "manifest.json").read_text())
    checked_in = json.loads((repo_root / manifest["$schema"]).read_text())
    assert checked_in == json.loads(result.output), "run: tiergate schema > docs/manifest.schema.json"
