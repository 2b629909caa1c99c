"""The marker secret comes from TIERGATE_NOTE_SECRET (newest first), is never printed, and a
marker signed with one site's secret does not verify under another's."""
from tiergate.runtime.config import Settings
from tiergate.plugin.core import handoff_marker as hm


def test_note_secret_is_read_from_the_environment_and_redacted():
    s = Settings.from_env({"TIERGATE_NOTE_SECRET": "new-key, old-key"})
    assert s.note_secret == "new-key, old-key"
    assert s.redacted()["note_secret"] == "***"
    assert "new-key" not in repr(s)
    assert hm.marker_keys(s.note_secret) == (b"new-key", b"old-key")


def test_marker_signed_with_one_secret_does_not_verify_with_another():
    fp = hm.fingerprint(42, "security_incident", "security")
    ours = hm.marker_keys("site-secret")
    text = hm.marker(fp, ours)
    tag = text[len("[tiergate:"):-1].split(".", 1)[1]
    assert hm.verifies(fp, tag, ours)
    assert not hm.verifies(fp, tag, hm.marker_keys("another-site"))
    assert not hm.verifies(fp, tag, hm.marker_keys(None))
