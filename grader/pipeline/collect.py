"""``python -m grader collect DIR``: gather downloaded student notebooks into ``submitted/``.

Every ``.ipynb`` file under ``DIR`` (searched recursively) is one candidate
submission. Its student id and assignment come from its path, by the first rule
that applies (assignment names are the folders of ``solutions/``, matched
case-insensitively; the longest name wins when several fit):

1. nbgrader's tree: ``<student>/<assignment>/<assignment>.ipynb`` at the top of ``DIR``
   (so ``DIR`` may be a course's ``submitted/`` folder); deeper in ``DIR`` such a path is
   not trusted to name a student.
2. Canvas: ``<name>[_LATE]_<userid>_<fileid>_<file>.ipynb`` where ``<file>``
   contains an assignment name (Canvas appends ``-N`` on resubmission:
   ``<assignment>-1``); ``<name>`` is the student's sortable name as Canvas writes it in
   a download (``smithjohn``) and becomes the student id, Canvas's user id and LATE flag
   are kept (see below). An anonymous download's ``[LATE_]anon_<id>_<fileid>_<file>``
   gives the student id ``anon_<id>``. Two Canvas users whose names give one id are kept
   apart: the first recorded in the course (else the smaller user id) keeps the id, the
   other becomes ``<id>-<userid>``.
3. ``<student>_<assignment>.ipynb`` or ``<student>-<assignment>.ipynb``, optionally with an
   LMS re-upload number ``-N`` (``alice_01_attention_weights-1.ipynb``).
4. ``<assignment>-<student>.ipynb`` or ``<assignment>_<student>.ipynb``.

A browser's copy suffix (``name (1).ipynb``) is ignored. Hidden files and
folders (``.ipynb_checkpoints``, ``.DS_Store``), ``__MACOSX`` folders and the
destination ``submitted/`` folder itself (when it lies inside ``DIR``) are not
searched. Symbolic links are never followed: each is reported as skipped. Only
notebooks are copied: every other file is reported as skipped.

Student ids become nbgrader folder names, gradebook keys and spreadsheet cells, so they
are normalised conservatively — Unicode NFKC (full-width letters and the Kelvin sign
become the letters they look like), surrounding whitespace stripped, case folded, inner
runs of whitespace turned into ``_`` — and must then consist of letters, digits (any
script) and ``. _ - @ +``, not start with ``.``, ``-``, ``+`` or ``@`` (nor ``=``: a
spreadsheet would read the id as a formula) and have at most 128 characters; any other id
is rejected with a reason.

A file is skipped, with a one-line reason, never stopping the run, when it is
not a notebook (other extension, or JSON without notebook cells), holds corrupt
JSON, is not a valid nbformat-4 notebook, names no known assignment or no
student, names an assignment left out by ``assignments``, or is of the wrong
assignment: its nbgrader grade ids (those that occur in one source notebook
only) belong to another assignment, or to none. Of several files of one
student and assignment the most recent is kept and the others are reported as
``duplicate of`` it: the later submission time the LMS gave, else the later
Canvas file (its file id: Canvas numbers uploads in order), else the higher
re-upload number ``-N``, else the later path in sorted order.

Submission times are the LMS's only (``--submissions FILE``, see
:mod:`grader.pipeline.lms`): never a file's modification time (the time it was
unpacked) and never a ``timestamp.txt`` found inside a student's folder (a student
can write one). Canvas's file names carry no time, only the LATE flag.

Each kept file is copied byte for byte (the bytes that were checked) to
``<course_dir>/submitted/<student>/<assignment>/<assignment>.ipynb``, replacing
what is there, with ``timestamp.txt`` holding the LMS's submission time in nbgrader's
format, ``2024-05-01 14:03:07.000000 UTC``, when there is one (without it nbgrader
counts the submission as on time: a LATE file without a time is reported). What the
LMS said (Canvas user id, LATE flag, time) is kept in
``<course_dir>/grader/lms/<assignment>/<student>.json`` for ``export``. Running
collect twice on the same folder writes the same files again.
"""

from __future__ import annotations

import copy
import datetime as dt
import errno
import json
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import nbformat

from ..errors import CollectError, GraderError
from ..runtime.notebook import grade_id
from ..sources import select, source_path
from . import course as _course
from . import lms as _lms

#: nbgrader's default ``Exchange.timestamp_format``; its ``parse_utc`` reads it back.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
#: Longest student id accepted (nbgrader's gradebook stores ids as String(128)).
STUDENT_ID_MAX = 128
#: Characters allowed in a student id besides letters and digits.
STUDENT_ID_PUNCTUATION = "._-@+"
#: Characters a student id must not start with: dot files, options, and spreadsheet formulas.
ID_BAD_START = ".-+@="
#: Folders never searched (besides hidden ones): archive tools' metadata.
IGNORED_FOLDERS = frozenset({"__MACOSX"})
#: Extensions whose "not a notebook" reason suggests unpacking.
ARCHIVES = frozenset({".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"})

_COPY_SUFFIX = re.compile(r"\s*\(\d+\)$")
#: Canvas's ``<name>[_LATE]_<userid>_<fileid>_<file>`` (ContentZipper#get_filename and
#: #add_upload_submission in instructure/canvas-lms), on the lower-cased file name.
_CANVAS = re.compile(r"^(?P<login>.+?)(?P<late>_late)?_(?P<userid>\d+)_(?P<attachment>\d+)_(?P<file>.+)$")
#: The same for an anonymous download: ``[LATE_]anon_<anonymous id>_<fileid>_<file>``.
_CANVAS_ANONYMOUS = re.compile(r"^(?P<late>late_)?(?P<anon>anon_[a-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$")
#: A re-upload number at the end of a file name: ``<assignment>-2``.
_REUPLOAD = re.compile(r"-(\d+)$")


class Collected(NamedTuple):
    """One submission copied into the course, with what the LMS said about it."""

    student: str
    assignment: str
    destination: Path
    origin: Path
    record: _lms.LmsRecord | None = None


class Skipped(NamedTuple):
    """One file left out, with the reason."""

    origin: Path
    reason: str


@dataclass(frozen=True)
class CollectResult:
    """What ``collect`` did: submissions copied, files skipped (each with a reason), and warnings
    (a LATE file without a submission time, a line of the submissions file that matched nothing)."""

    collected: list[Collected] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ParsedName(NamedTuple):
    """What a notebook's path says: the student and assignment, and what Canvas's name adds."""

    student: str
    assignment: str
    lms: str = ""
    lms_user_id: str = ""
    late: bool = False
    attachment: int = -1
    reupload: int = 0


class SkipFile(GraderError):
    """A file cannot be collected; the message is the one-line reason (never stops the run)."""


class _Candidate(NamedTuple):
    student: str
    assignment: str
    origin: Path
    relative: str
    name: ParsedName
    raw: bytes


# ----------------------------------------------------------------------------- names


def normalise_student_id(raw):
    """The student id as a safe folder name and gradebook key.

    Parameters
    ----------
    raw : str
        The id as found in a file or folder name.

    Returns
    -------
    str
        NFKC-normalised, stripped, case-folded, inner whitespace runs turned into ``_``.

    Raises
    ------
    SkipFile
        When the result is empty, too long, starts with ``. - + @ =`` or holds a control
        character or a character other than a letter, a digit or one of ``. _ - @ +``.
    """
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in raw):
        raise SkipFile(f"unusable student id {raw!r}: it holds control characters")
    text = re.sub(r"\s+", "_", unicodedata.normalize("NFKC", raw).strip().casefold())
    if not text:
        raise SkipFile("no student id in the file name")
    if text[0] in ID_BAD_START:
        raise SkipFile(f"unusable student id {raw!r}: must not start with {text[0]!r}")
    bad = sorted({c for c in text if not (c.isalnum() or c in STUDENT_ID_PUNCTUATION)})
    if bad:
        raise SkipFile(f"unusable student id {raw!r}: {''.join(bad)!r} not allowed "
                       f"(letters, digits and {STUDENT_ID_PUNCTUATION} only)")
    if len(text) > STUDENT_ID_MAX:
        raise SkipFile(f"unusable student id {raw!r}: longer than {STUDENT_ID_MAX} characters")
    return text


def _assignment_in(text, names):
    """The longest of ``names`` (lower case) contained in ``text``, or None."""
    return next((name for name in names if name in text), None)


def _reupload(text):
    """The LMS's re-upload number at the end of a name (``-2``), else 0."""
    found = _REUPLOAD.search(text)
    return int(found.group(1)) if found else 0


def parse_name(relative, known) -> ParsedName:
    """The raw student id and the assignment named by a notebook's path, and what Canvas's name adds.

    Parameters
    ----------
    relative : pathlib.PurePath
        The notebook's path relative to the folder being collected.
    known : list of str
        The course's assignment names.

    Returns
    -------
    ParsedName
        ``student`` as written (see `normalise_student_id`), ``assignment`` one of ``known``;
        for Canvas's names ``lms="canvas"``, the user id, the LATE flag and the file id.

    Raises
    ------
    SkipFile
        When the path names no known assignment, no student, or follows none of the
        patterns of the module docstring.
    """
    by_lower = {name.lower(): name for name in known}
    names = sorted(by_lower, key=len, reverse=True)
    stem = _COPY_SUFFIX.sub("", unicodedata.normalize("NFC", relative.stem).strip()).lower()
    folders = [unicodedata.normalize("NFC", part) for part in relative.parts[:-1]]

    if folders and stem in by_lower and folders[-1].strip().lower() == stem:  # nbgrader's tree
        if len(folders) < 2:
            raise SkipFile(f"no student id: {folders[-1]}/{relative.name} lies directly in the collected "
                           "folder (nbgrader's tree is <student>/<assignment>/<assignment>.ipynb)")
        if len(folders) > 2:
            raise SkipFile("an nbgrader tree below the top of the collected folder: its path does not "
                           "name a student (collect the tree's own submitted/ folder instead)")
        return ParsedName(folders[-2], by_lower[stem])

    anonymous = _CANVAS_ANONYMOUS.match(stem)
    if anonymous and (name := _assignment_in(anonymous["file"], names)):
        return ParsedName(anonymous["anon"], by_lower[name], "canvas", anonymous["anon"],
                          bool(anonymous["late"]), int(anonymous["attachment"]), _reupload(anonymous["file"]))
    canvas = _CANVAS.match(stem)
    if canvas and (name := _assignment_in(canvas["file"], names)):
        return ParsedName(canvas["login"], by_lower[name], "canvas", canvas["userid"], bool(canvas["late"]),
                          int(canvas["attachment"]), _reupload(canvas["file"]))

    for name in names:
        for sep in "_-":
            if stem.endswith(sep + name) and len(stem) > len(name) + 1:
                return ParsedName(stem[: -len(name) - 1], by_lower[name])
            if stem.startswith(name + sep) and len(stem) > len(name) + 1:
                return ParsedName(stem[len(name) + 1:], by_lower[name])

    for name in names:  # a re-upload numbered by the LMS: <student>_<assignment>-N
        if reupload := re.fullmatch(rf"(?P<student>.+)[_-]{re.escape(name)}-(?P<number>\d+)", stem):
            return ParsedName(reupload["student"], by_lower[name], reupload=int(reupload["number"]))

    if stem in by_lower:
        raise SkipFile("no student id in the file name (expected <student>_<assignment>.ipynb)")
    if name := _assignment_in(stem, names):
        raise SkipFile(f"unrecognised file name: it mentions {by_lower[name]} but not as "
                       "<student>_<assignment>, <student>-<assignment>, <assignment>-<student> "
                       "or Canvas's form")
    raise SkipFile(f"unknown assignment: the file name names none of {', '.join(known)}")


def parse_path(relative, known):
    """The raw student id and the assignment named by a notebook's path (:func:`parse_name`'s first two)."""
    parsed = parse_name(relative, known)
    return parsed.student, parsed.assignment


# -------------------------------------------------------------------------- contents


def read_bytes(path) -> bytes:
    """The file's bytes, never through a symbolic link (even one put there after it was listed)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SkipFile("a symbolic link: not followed") from None
        raise SkipFile(f"unreadable ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


def read_notebook(path, raw: bytes | None = None):
    """The notebook's JSON as a dict, checked against the nbformat 4 schema.

    Raises
    ------
    SkipFile
        ``corrupt JSON``, ``not a notebook`` (JSON without cells) or ``invalid notebook``.
    """
    raw = read_bytes(path) if raw is None else raw
    try:
        data = json.loads(raw)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise SkipFile(f"corrupt JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SkipFile("not a notebook: JSON without notebook cells")
    if data.get("nbformat") != 4:
        raise SkipFile(f"invalid notebook (nbformat {data.get('nbformat')!r}; expected 4)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing cell ids: nbformat repairs them, nbgrader copes
            nbformat.validate(copy.deepcopy(data))
    except Exception as error:  # nbformat's ValidationError and friends
        message = (str(getattr(error, "message", error)).splitlines() or [type(error).__name__])[0]
        where = "/".join(str(p) for p in getattr(error, "path", []) or [])
        if len(message) > 100:
            message = "does not match the nbformat schema"
        raise SkipFile(f"invalid notebook ({where + ': ' if where else ''}{message})") from None
    return data


def grade_ids(notebook):
    """The set of nbgrader grade ids of a notebook given as a JSON dict."""
    cells = notebook.get("cells", [])
    return frozenset(filter(None, (grade_id(cell) for cell in cells if isinstance(cell, dict))))


def fingerprints(solutions, known):
    """For each assignment, the grade ids of its source notebook that no other source has.

    Returns
    -------
    dict of str to frozenset of str
    """
    ids = {name: grade_ids(json.loads(source_path(name, solutions).read_bytes()))
           for name in known}
    return {name: frozenset(own - set().union(*(ids[o] for o in known if o != name)))
            for name, own in ids.items()}


def owners(ids, prints):
    """The assignments whose distinctive grade ids ``ids`` share the most of (empty: none)."""
    counts = {name: len(ids & distinctive) for name, distinctive in prints.items()}
    best = max(counts.values(), default=0)
    return sorted(name for name, count in counts.items() if count == best) if best else []


# ---------------------------------------------------------------------------- times


def format_timestamp(time):
    """``time`` (aware datetime) in nbgrader's timestamp format, in UTC."""
    return time.astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)


# ---------------------------------------------------------------------------- search


def _files(root, exclude=frozenset()):
    """Every file under ``root`` (sorted), without hidden entries, ``__MACOSX`` and the folders of
    ``exclude`` (resolved paths).

    Symbolic links (to files or folders) are yielded as they are, never followed, so that
    they are reported.
    """
    for folder, subfolders, names in os.walk(root):
        links = [d for d in subfolders if os.path.islink(os.path.join(folder, d))]
        subfolders[:] = sorted(
            d for d in subfolders
            if d not in links and not d.startswith(".") and d not in IGNORED_FOLDERS
            and Path(folder, d).resolve() not in exclude)
        for name in sorted([*names, *links]):
            if not name.startswith("."):
                yield Path(folder) / name


def _is_tree_timestamp(path):
    """Is ``path`` the ``timestamp.txt`` of an nbgrader assignment folder (not trusted, not reported)?"""
    return path.name == "timestamp.txt" and (path.parent / f"{path.parent.name}.ipynb").is_file()


def _candidate(path, root, known, selected, prints):
    """The submission a file is, or SkipFile with the reason."""
    if path.is_symlink():
        raise SkipFile("a symbolic link: not followed")
    if path.suffix.lower() != ".ipynb":
        kind = f"{path.suffix} file" if path.suffix else "no .ipynb extension"
        hint = "; unpack archives first" if path.suffix.lower() in ARCHIVES else ""
        raise SkipFile(f"not a notebook ({kind}{hint})")
    name = parse_name(path.relative_to(root), known)
    student, assignment = normalise_student_id(name.student), name.assignment
    if assignment not in selected:
        raise SkipFile(f"assignment {assignment} not selected (--assignment {' '.join(selected)})")
    raw = read_bytes(path)
    notebook = read_notebook(path, raw)
    belongs = owners(grade_ids(notebook), prints)
    if not belongs:
        raise SkipFile(f"wrong assignment: named {assignment} but none of its cells belong to any "
                       "assignment of the course (no matching nbgrader grade ids)")
    if assignment not in belongs:
        raise SkipFile(f"wrong assignment: named {assignment} but its cells belong to {' or '.join(belongs)}")
    return _Candidate(student, assignment, path, str(path.relative_to(root)), name, raw)


def _write(candidate, submitted, time):
    """Copy one kept submission and its timestamp (removing a stale one when the LMS gave no time);
    return its destination notebook."""
    folder = submitted / candidate.student / candidate.assignment
    destination = folder / f"{candidate.assignment}.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    if not (destination.exists() and destination.samefile(candidate.origin)):
        destination.unlink(missing_ok=True)  # never write through a link left in the course folder
        destination.write_bytes(candidate.raw)
    stamp = folder / "timestamp.txt"
    stamp.unlink(missing_ok=True)
    if time is not None:
        stamp.write_text(format_timestamp(time) + "\n")
    return destination


def canvas_owners(records) -> dict:
    """Student id -> the Canvas user id it was first recorded for, from the course's LMS records."""
    owners = {}
    for record in records:
        if record.lms == "canvas" and record.lms_user_id:
            owners.setdefault(record.student, record.lms_user_id)
    return owners


def apart(candidates, owners):
    """The candidates with Canvas users who share a student id kept apart.

    Of the Canvas user ids one id stands for, the one the course recorded first keeps it (else
    the smallest); every other becomes ``<id>-<userid>``.
    """
    users = {}
    for c in candidates:
        if c.name.lms == "canvas":
            users.setdefault(c.student, set()).add(c.name.lms_user_id)
    keeper = {}
    for student, ids in users.items():
        keeper[student] = owners.get(student) or min(ids, key=lambda uid: (len(uid), uid))
    return [c._replace(student=f"{c.student}-{c.name.lms_user_id}")
            if c.name.lms == "canvas" and c.name.lms_user_id != keeper[c.student] else c for c in candidates]


def _order(candidate, time):
    """Sort key of one student's files of one assignment: the most recent last."""
    return (time is not None, time or dt.datetime.min.replace(tzinfo=dt.UTC), candidate.name.attachment,
            candidate.name.reupload, str(candidate.origin))


def collect(source, course_dir, *, assignments=None, solutions=_course.SOLUTIONS, submission_times=None):
    """Copy the student notebooks found under ``source`` into ``course_dir/submitted``.

    Parameters
    ----------
    source : path-like
        Folder of downloaded submissions, searched recursively (see the module docstring
        for the file names understood).
    course_dir : path-like
        Working course folder; notebooks go to ``submitted/<student>/<assignment>/``.
    assignments : list of str, optional
        Collect only these assignments; files of the others are skipped. Default: all.
    solutions : path-like
        Source notebooks: the assignment names and the grade ids that recognise them.
    submission_times : path-like, optional
        The LMS's submission times as CSV (:func:`grader.pipeline.lms.read_submission_times`);
        without it no submission gets a time (nbgrader then counts none as late).

    Returns
    -------
    CollectResult
        ``collected`` sorted by assignment then student, each with its LMS record;
        ``skipped`` sorted by path; ``warnings``.

    Raises
    ------
    CollectError
        When ``source`` is not a folder, ``solutions`` holds no assignment, ``assignments``
        names an unknown one or the submission times cannot be read.
    """
    root = Path(source)
    if not root.is_dir():
        raise CollectError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}")
    known = _course.assignments(solutions)
    if not known:
        raise CollectError(f"{solutions} holds no assignment (<name>/<name>.ipynb)")
    selected = select(assignments, solutions, CollectError)
    times = [] if submission_times is None else _lms.read_submission_times(submission_times,
                                                                           normalise_student_id)
    prints = fingerprints(solutions, known)
    submitted = Path(course_dir) / "submitted"
    # The course's own folders when they lie inside DIR (unless DIR is one of them).
    exclude = {f.resolve() for f in (submitted, _lms.records_dir(course_dir))
               if not root.resolve().is_relative_to(f.resolve())}

    candidates, skipped = [], []
    for path in _files(root, exclude):
        if _is_tree_timestamp(path):
            continue
        try:
            candidates.append(_candidate(path, root, known, selected, prints))
        except SkipFile as reason:
            skipped.append(Skipped(path, str(reason)))
    candidates = apart(candidates, canvas_owners(_lms.load_records(course_dir)))

    def time_row(c):
        return _lms.time_of(times, relative=c.relative, student=c.student, assignment=c.assignment,
                            user_id=c.name.lms_user_id)

    rows = {c.origin: time_row(c) for c in candidates}
    groups = {}
    for candidate in candidates:
        groups.setdefault((candidate.student, candidate.assignment), []).append(candidate)
    collected, warnings = [], []
    for (student, assignment), group in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        group = sorted(group, key=lambda c: _order(c, rows[c.origin] and rows[c.origin].time))
        kept = group[-1]
        skipped += [Skipped(c.origin, f"duplicate of {kept.origin} (same student {student} and assignment "
                                      f"{assignment}; the most recent is kept)") for c in group[:-1]]
        row = rows[kept.origin]
        record = _lms.LmsRecord(student, assignment, str(kept.origin), kept.name.lms, kept.name.lms_user_id,
                                kept.name.late, format_timestamp(row.time) if row else None)
        if record.late and row is None:
            warnings.append(f"{student} {assignment}: LATE in Canvas, but no submission time for it "
                            "(--submissions): nbgrader will not count it late")
        try:
            destination = _write(kept, submitted, row and row.time)
            _lms.save_record(course_dir, record)
        except OSError as error:
            skipped.append(Skipped(kept.origin, f"could not copy to {submitted}: {error}"))
            continue
        collected.append(Collected(student, assignment, destination, kept.origin, record))
    used = {row.row for row in rows.values() if row is not None}
    warnings += [f"--submissions row {t.row} matches no collected file" for t in times if t.row not in used]
    return CollectResult(collected, sorted(skipped, key=lambda s: str(s.origin)), warnings)


def summary(result, submitted):
    """The last line of the report."""
    students = len({c.student for c in result.collected})
    names = len({c.assignment for c in result.collected})
    return (f"collected {len(result.collected)} submission(s) of {students} student(s), {names} "
            f"assignment(s) into {submitted}; skipped {len(result.skipped)} file(s)")
