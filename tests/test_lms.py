"""Submission names of Canvas, Moodle and Blackboard downloads filed under the right student
(scripts/lms.py), underscores in ids and file names included."""

from __future__ import annotations

import zipfile

import pytest

from scripts import lms

A = "05_multihead"


@pytest.mark.parametrize(
    ("name", "student", "system", "late"),
    [
        ("doejane_123456_7890123_05_multihead.ipynb", "doejane", "Canvas", False),
        ("doejane_LATE_123456_7890123_05_multihead.ipynb", "doejane", "Canvas", True),
        ("jane_doe_123456_7890123_05_multihead-1.ipynb", "jane_doe", "Canvas", False),
        ("jane_2024_123456_7890123_05_multihead.ipynb", "jane_2024", "Canvas", False),
        ("doe_j_LATE_44_55_my notebook.ipynb", "doe_j", "Canvas", True),
        ("05_multihead_j_doe_attempt_2026-12-01-10-15-00_05_multihead.ipynb", "j_doe", "Blackboard", False),
    ],
)
def test_a_download_name_is_its_student(name, student, system, late, tmp_path):
    path = tmp_path / name
    path.write_text("{}")
    sub = lms.parse(path, A)
    assert (sub.student, sub.lms, sub.late) == (student, system, late)


def test_a_moodle_folder_is_its_participant(tmp_path):
    path = tmp_path / "Jane Doe_123456_assignsubmission_file_" / "my_notebook.ipynb"
    path.parent.mkdir()
    path.write_text("{}")
    assert (lms.parse(path, A).student, lms.parse(path, A).lms) == ("123456", "Moodle")


def test_a_zip_is_filed_latest_attempt_first(tmp_path):
    """A Canvas zip with a resubmission and a late one, a Blackboard pair of attempts: each student's
    latest notebook under the assignment's name; anything else that is not a notebook is left."""
    download = tmp_path / "submissions.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("doejane_123456_7890123_05_multihead.ipynb", "first")
        archive.writestr("doejane_123456_7890200_05_multihead.ipynb", "second")
        archive.writestr("jane_doe_LATE_777_7890300_05_multihead (1).ipynb", "late")
        archive.writestr("05_multihead_bb_user_attempt_2026-12-01-10-15-00_x.ipynb", "early")
        archive.writestr("05_multihead_bb_user_attempt_2026-12-02-09-00-00_x.ipynb", "later")
        archive.writestr("doejane_123456_7890123_notes.txt", "not a notebook")
    kept = lms.collect(tmp_path / "course", A, download)
    assert sorted(kept) == ["bb_user", "doejane", "jane_doe"]
    filed = {s: (tmp_path / "course" / "submitted" / s / A / f"{A}.ipynb").read_text() for s in kept}
    assert filed == {"doejane": "second", "jane_doe": "late", "bb_user": "later"}


def test_a_notebook_no_lms_named_is_reported(tmp_path):
    (tmp_path / "download").mkdir()
    (tmp_path / "download" / "05_multihead.ipynb").write_text("{}")
    with pytest.raises(ValueError, match=r"named by no LMS this knows: 05_multihead\.ipynb"):
        lms.collect(tmp_path / "course", A, tmp_path / "download")
