"""Submissions downloaded from an LMS, filed where nbgrader grades them (book/instructors.md).

Canvas, Moodle and Blackboard each rename what a student handed in. This reads a download (a folder or
the LMS's zip) and writes ``submitted/<student>/<assignment>/<assignment>.ipynb`` in the course folder:

- **Canvas**: ``<login>_[LATE_]<user id>_<submission id>_<the student's file name>``, a resubmission
  ending in ``-1``, ``-2``... (``doejane_123456_7890123_05_multihead.ipynb``);
- **Moodle** ("Download all submissions"): a folder per student,
  ``<Full Name>_<participant id>_assignsubmission_file_/<the student's file name>``;
- **Blackboard**: ``<assignment>_<username>_attempt_<yyyy-mm-dd-hh-mm-ss>_<the student's file name>``.

The student is the login (Canvas), the participant id (Moodle) or the username (Blackboard), read by
anchoring on the numbers and words around it, so that an id with underscores stays whole. Whatever the
student named the notebook, it is filed under the assignment's name; of several attempts the latest
is kept (a later submission id on Canvas, a later date on Blackboard).

    python -m scripts.lms COURSE ASSIGNMENT DOWNLOAD     (DOWNLOAD: a folder or a .zip)
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# {file}: the student's file name; first tried as the assignment's name (what the release calls it),
# which keeps an id that ends in digits ("jane_2024") from being read as Canvas's numbers.
CANVAS = (
    r"^(?P<student>.+?)_(?P<late>LATE_)?(?P<user>\d+)_(?P<attempt>\d+)_(?P<file>{file})(?:-(?P<again>\d+))?\.ipynb$"
)
MOODLE = re.compile(r"^(?P<name>.+)_(?P<student>\d+)_assignsubmission_file_?$")
BLACKBOARD = r"^{title}_(?P<student>.+)_attempt_(?P<attempt>\d{{4}}(?:-\d\d){{5}})_(?P<file>.+)\.ipynb$"


@dataclass(frozen=True)
class Submission:
    """One notebook of a download: whose it is, which LMS named it, how to order its attempts."""

    path: Path
    student: str
    lms: str
    attempt: tuple
    late: bool = False


def parse(path: Path, assignment: str, title: str | None = None) -> Submission | None:
    """The submission a downloaded file is, from its name (and its folder's, for Moodle); ``None`` for a
    file that is not a notebook named by one of the three. ``title``: the assignment's title on
    Blackboard, which starts its file names (default: ``assignment``)."""
    if path.suffix != ".ipynb":
        return None
    if m := MOODLE.match(path.parent.name):
        return Submission(path, m["student"], "Moodle", (path.stat().st_mtime,))
    if m := re.match(BLACKBOARD.format(title=re.escape(title or assignment)), path.name):
        return Submission(path, m["student"], "Blackboard", (m["attempt"],))
    for file in (re.escape(assignment) + r"[^/]*?", ".+?"):
        if m := re.match(CANVAS.format(file=file), path.name):
            attempt = (int(m["attempt"]), int(m["again"] or 0))
            return Submission(path, m["student"], "Canvas", attempt, late=bool(m["late"]))
    return None


def latest(found: list[Submission]) -> dict[str, Submission]:
    """The latest attempt of each student."""
    kept: dict[str, Submission] = {}
    for sub in sorted(found, key=lambda s: (s.lms, s.attempt)):  # attempts compare within one LMS
        kept[sub.student] = sub
    return kept


def collect(course: Path, assignment: str, download: Path, title: str | None = None) -> dict[str, Submission]:
    """File a download's notebooks into ``course/submitted/<student>/<assignment>/``; returns them by student.

    Raises ``ValueError`` naming the files it could not attribute, before writing anything."""
    with tempfile.TemporaryDirectory() as unpacked:
        if download.suffix == ".zip":
            with zipfile.ZipFile(download) as archive:
                archive.extractall(unpacked)
            download = Path(unpacked)
        files = sorted(p for p in download.rglob("*") if p.is_file() and not p.name.startswith("."))
        parsed = {p: parse(p, assignment, title) for p in files}
        unknown = [str(p.relative_to(download)) for p, sub in parsed.items() if sub is None and p.suffix == ".ipynb"]
        if unknown:
            raise ValueError(f"notebooks of {download} named by no LMS this knows: {', '.join(unknown)}")
        kept = latest([sub for sub in parsed.values() if sub])
        for student, sub in kept.items():
            target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sub.path, target)
        return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("course", type=Path)
    parser.add_argument("assignment")
    parser.add_argument("download", type=Path)
    parser.add_argument("--title", help="the assignment's title on Blackboard (default: ASSIGNMENT)")
    args = parser.parse_args()
    kept = collect(args.course, args.assignment, args.download, args.title)
    for student, sub in sorted(kept.items()):
        print(f"{student}: {sub.path.name} ({sub.lms}{', late' if sub.late else ''})")
    print(f"{len(kept)} submissions of {args.assignment} filed in {args.course / 'submitted'}")


if __name__ == "__main__":
    main()
