"""The LMS side of a class: what the LMS says about each submission, its roster, and its grade import.

**Submission records.** ``collect`` keeps, per submission, what the LMS said about it in a
:class:`LmsRecord` under ``<course>/grader/lms/<assignment>/<student>.json`` (the instructor's
side of the course folder, where no student file goes): Canvas's user id and LATE flag from the
file name, and the submission time when the LMS gave one (:func:`read_submission_times`).

**Submission times.** Canvas's file names carry no time, and a file's modification time is the
time it was unpacked, not handed in; so the only times trusted are the LMS's own, given by the
instructor as a CSV file (``collect --submissions FILE``), e.g. from Canvas's submissions API
(``submitted_at``). Its columns (names case-insensitive):

- ``submitted_at`` — ISO 8601 with a zone (``2026-03-01T13:00:00Z``, ``...+01:00``) or nbgrader's
  ``2026-03-01 13:00:00.000000 UTC``; a time without a zone is refused;
- and what it belongs to: ``file`` (the file's path in the download folder, or its name), or a
  student — ``user_id`` (Canvas's numeric id) or ``student`` (the id ``collect`` derives) — with
  an optional ``assignment``.

**Roster.** ``export --format canvas|moodle --roster FILE`` reads the LMS's own gradebook export
as the roster: Canvas's (``Student, ID, SIS User ID, SIS Login ID, Section, ...``, a ``Points
Possible`` row) or Moodle's plain-text export (``First name, Last name, ID number, Institution,
Department, Email address, ...``). A graded student is matched to a roster entry by the Canvas
user id ``collect`` recorded, else by the student id being one of the entry's ids (SIS login or
user id, Moodle ID number, email or its local part when unique, username, Canvas's file-name form
of the name); a student matching no entry, or several, is reported and left out.

**Grade import files**, one row per roster entry, one column per assignment:

- Canvas (``canvas-grades.csv``), as Canvas's gradebook importer reads it
  (``app/models/gradebook_importer.rb`` in instructure/canvas-lms: ``header?``,
  ``update_column_count``, ``check_for_non_student_row``, ``process_pp``, ``process_student``,
  ``no_score?``): the header ``Student, ID, SIS User ID, SIS Login ID, Section`` — the importer
  requires ``Student`` and ``ID`` first and ``Section`` as the last student column, with ``SIS
  Login ID`` right after ``SIS User ID`` when that is present — then one column per assignment,
  named ``Title (canvas id)`` when the roster has that assignment's column (matched by id), else
  by its title (matched by title, or created); a second row whose first cell is ``Points
  Possible`` gives each assignment's points; students are matched by ``ID``, then SIS ids,
  then name. An empty cell is "no score" for the importer (it changes nothing).
- Moodle (``moodle-grades.csv``), as Moodle's own plain-text grade export writes it and its CSV
  import reads it (``grade/export/txt/grade_export_txt.php``, ``grade/export/lib.php``
  ``format_column_name``, ``grade/import/csv/classes/load_data.php`` in moodle/moodle; Moodle
  docs "Grade import": "the import file format is the same as the corresponding export
  format"): the user columns ``First name, Last name, ID number, Institution, Department, Email
  address``, then one column per assignment named ``<name> (Real)``; no points row (every row
  after the header is a user: one the import cannot map aborts it), so every row is a roster
  user. "No grade" is ``-``, Moodle's own spelling (``grade_format_gradevalue``): the import reads
  ``-`` as no grade for an existing grade item and for a new one, where an empty cell would be
  stored as 0 (Moodle's DML turns '' into 0 in a numeric column). In the import, map "Email
  address" to "useremail" (or "ID number" to "useridnumber") and each assignment column to its
  grade item; a new grade item gets Moodle's default maximum grade, so create the items with
  their points (``export`` prints them) and map the columns to them.

In both, a student without a submission has an empty grade (never 0), and so has a submission
with a written answer awaiting grading by hand — reported by ``export``, never counted as 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import CollectError, ExportError
from . import grades as _grades
from .results import GRADER_DIR

#: Folder of the course's grader folder holding the LMS records.
LMS_DIR = "lms"
#: The column headers Canvas's importer reads as student information, in its order.
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
#: The first cell of Canvas's points-possible row (its own export's spelling).
CANVAS_POINTS_POSSIBLE = "    Points Possible"
#: Moodle's default user columns of a grade export (``$CFG->grade_export_userprofilefields``).
MOODLE_USER_COLUMNS = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]
#: Moodle's "no grade".
MOODLE_NO_GRADE = "-"
#: The file names ``export`` writes.
OUTPUT_NAMES = {"canvas": "canvas-grades.csv", "moodle": "moodle-grades.csv"}


# ---- submission records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LmsRecord:
    """What the LMS said about one collected submission.

    Attributes
    ----------
    student, assignment : str
    origin : str
        The file collected.
    lms : str
        ``"canvas"`` when the file name was Canvas's, else empty.
    lms_user_id : str
        Canvas's user id (``anon_...`` for an anonymous download), else empty.
    late : bool
        Canvas's LATE flag in the file name.
    submitted_at : str or None
        The LMS's submission time in nbgrader's format (UTC), or None when it gave none.
    """

    student: str
    assignment: str
    origin: str
    lms: str = ""
    lms_user_id: str = ""
    late: bool = False
    submitted_at: str | None = None


def records_dir(course_dir: Path | str) -> Path:
    """Folder of the LMS records of a course."""
    return Path(course_dir) / GRADER_DIR / LMS_DIR


def save_record(course_dir: Path | str, record: LmsRecord) -> Path:
    """Write one record (replacing an earlier one of the same submission); return its path."""
    path = records_dir(course_dir) / record.assignment / f"{record.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(record), indent=1))
    return path


def load_records(course_dir: Path | str) -> list[LmsRecord]:
    """Every LMS record of the course, sorted by assignment and student."""
    return [LmsRecord(**json.loads(p.read_text()))
            for p in sorted(records_dir(course_dir).glob("*/*.json"))]


# ---- submission times -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionTime:
    """One row of a submissions file: a time and what it belongs to."""

    row: int
    time: dt.datetime
    file: str = ""
    user_id: str = ""
    student: str = ""
    assignment: str = ""


def _columns(header: list[str]) -> dict[str, int]:
    """Lower-cased, stripped header names -> column index."""
    return {name.strip().lower().replace(" ", "_"): i for i, name in enumerate(header)}


def parse_lms_time(text: str) -> dt.datetime:
    """An LMS time with its zone as an aware UTC datetime.

    Raises
    ------
    ValueError
        When the text is not a time, or has no zone.
    """
    from nbgrader.utils import parse_utc

    text = text.strip()
    parts = text.split(" ")
    if len(parts) != 3:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone (write e.g. 2026-03-01T13:00:00Z)")
    return parse_utc(text).replace(tzinfo=dt.UTC)


def read_submission_times(path: Path | str, normalise=lambda raw: raw) -> list[SubmissionTime]:
    """The rows of a submissions file (see the module docstring).

    Parameters
    ----------
    path : path-like
    normalise : callable
        Applied to the ``student`` column (collect's student-id normalisation).

    Raises
    ------
    CollectError
        When the file is missing, has no ``submitted_at`` column or nothing to attach a time
        to, a time is unreadable or zoneless, or two rows give a time to the same thing.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise CollectError(f"--submissions {path}: {error.strerror or error}") from None
    if not rows:
        raise CollectError(f"--submissions {path}: empty file")
    columns = _columns(rows[0])
    when = next((columns[c] for c in ("submitted_at", "submission_time", "timestamp") if c in columns), None)
    keys = {key: next((columns[c] for c in names if c in columns), None) for key, names in {
        "file": ("file", "filename", "file_name"), "user_id": ("user_id", "id", "canvas_user_id"),
        "student": ("student", "student_id", "login"), "assignment": ("assignment",)}.items()}
    if when is None or all(keys[k] is None for k in ("file", "user_id", "student")):
        raise CollectError(f"--submissions {path}: needs a submitted_at column and a file, user_id or "
                           "student column")
    found, seen = [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(index, row=row):
            return row[index].strip() if index is not None and index < len(row) else ""

        try:
            time = parse_lms_time(cell(when))
        except ValueError as error:
            raise CollectError(f"--submissions {path}, row {number}: {error}") from None
        student = cell(keys["student"])
        if student:
            try:
                student = normalise(student)
            except Exception as error:  # collect's SkipFile: an id it would refuse
                raise CollectError(f"--submissions {path}, row {number}: {error}") from None
        item = SubmissionTime(number, time, cell(keys["file"]), cell(keys["user_id"]), student,
                              cell(keys["assignment"]))
        key = (item.file, item.user_id, item.student, item.assignment)
        if key in seen:
            raise CollectError(f"--submissions {path}: rows {seen[key]} and {number} give a time to the same "
                               "submission")
        seen[key] = number
        found.append(item)
    return found


def time_of(times: list[SubmissionTime], *, relative: str, student: str, assignment: str,
            user_id: str = "") -> SubmissionTime | None:
    """The row of ``times`` that gives a time to one file: its ``file`` row, else the most specific
    student row (same assignment before any assignment), else None."""
    name = Path(relative).name
    by_file = [t for t in times if t.file and t.file in (relative, name)]
    if by_file:
        return by_file[0]
    mine = [t for t in times if not t.file and t.assignment in ("", assignment)
            and ((t.user_id and t.user_id == user_id) or (t.student and t.student == student))]
    mine.sort(key=lambda t: (t.assignment != assignment, t.row))
    return mine[0] if mine else None


# ---- roster ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    """One student of an LMS roster, with every id a graded student may be matched by.

    Attributes
    ----------
    row : int
        Row in the roster file (1 is the header).
    name : str
        Canvas's ``Student`` (``Last, First``) or Moodle's first and last names.
    lms_id, sis_user_id, sis_login_id, section : str
        Canvas's columns.
    first_name, last_name, id_number, institution, department, email, username : str
        Moodle's columns.
    """

    row: int
    name: str = ""
    lms_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    first_name: str = ""
    last_name: str = ""
    id_number: str = ""
    institution: str = ""
    department: str = ""
    email: str = ""
    username: str = ""


@dataclass(frozen=True)
class Roster:
    """An LMS's list of students, read from its own gradebook export.

    Attributes
    ----------
    kind : {"canvas", "moodle"}
    entries : list of RosterEntry
    columns : list of str
        The roster's other column headers (assignment columns, among others).
    path : str
    """

    kind: str
    entries: list[RosterEntry]
    columns: list[str] = field(default_factory=list)
    path: str = ""


def _is_canvas(header: list[str]) -> bool:
    return len(header) > 1 and "Student" in header[0] and "ID" in header[1]


def _is_moodle(header: list[str]) -> bool:
    return {"First name", "Last name"} <= set(header) and bool({"Email address", "ID number"} & set(header))


def read_roster(path: Path | str) -> Roster:
    """A Canvas or Moodle gradebook export, as a roster.

    Canvas's rows that are not students (``Points Possible``, ``Muted`` / manual posting) are
    skipped; so are blank lines.

    Raises
    ------
    ExportError
        When the file cannot be read or is neither format.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError(f"--roster {path}: cannot read it ({error})") from None
    if not rows:
        raise ExportError(f"--roster {path}: empty file")
    header = [h.strip() for h in rows[0]]
    index = {name: i for i, name in enumerate(header)}

    def get(row, name):
        i = index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    entries = []
    if _is_canvas(header):
        kind, known = "canvas", set(CANVAS_STUDENT_COLUMNS) | {"Integration ID", "Root Account"}
        for number, row in enumerate(rows[1:], start=2):
            first = row[0].strip() if row else ""
            if "Points Possible" in first or all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I)
                                                 for c in row):
                continue
            entries.append(RosterEntry(number, name=first, lms_id=get(row, "ID"),
                                       sis_user_id=get(row, "SIS User ID"),
                                       sis_login_id=get(row, "SIS Login ID"), section=get(row, "Section")))
    elif _is_moodle(header):
        kind, known = "moodle", set(MOODLE_USER_COLUMNS) | {"Username"}
        for number, row in enumerate(rows[1:], start=2):
            first, last = get(row, "First name"), get(row, "Last name")
            entries.append(RosterEntry(number, name=f"{first} {last}".strip(), first_name=first,
                                       last_name=last, id_number=get(row, "ID number"),
                                       institution=get(row, "Institution"),
                                       department=get(row, "Department"), email=get(row, "Email address"),
                                       username=get(row, "Username")))
    else:
        raise ExportError(f"--roster {path}: neither Canvas's gradebook export (Student, ID, ..., Section) "
                          "nor Moodle's (First name, Last name, ..., Email address)")
    return Roster(kind, entries, [h for h in header if h not in known], str(path))


def canvas_file_name(name: str) -> str:
    """How Canvas writes a student's name in the files of a submissions download: the sortable
    name (``Last, First``), lower-cased, every character but letters, digits and ``_`` removed
    (``ContentZipper#get_user_name`` and ``#sanitize_file_name``)."""
    return re.sub(r"\W", "", name).lower()


def _key(text: str, normalise) -> str | None:
    """``text`` as collect's student ids are normalised; None when it could not be one."""
    if not text:
        return None
    try:
        return normalise(text)
    except Exception:  # collect's SkipFile: not an id collect would produce
        return None


def match_rules(roster: Roster, normalise) -> list[tuple[str, dict]]:
    """For each way of matching, in order of trust: its name and a map key -> roster entries."""
    local_parts: dict[str, list[RosterEntry]] = {}
    for entry in roster.entries:
        if "@" in entry.email:
            local_parts.setdefault(entry.email.split("@")[0], []).append(entry)

    def table(ids):
        found: dict[str, list[RosterEntry]] = {}
        for entry in roster.entries:
            for text in ids(entry):
                key = _key(text, normalise)
                if key is not None and entry not in found.get(key, []):
                    found.setdefault(key, []).append(entry)
        return found

    return [
        ("id", table(lambda e: [e.sis_login_id, e.sis_user_id, e.id_number, e.username, e.email])),
        ("email local part", table(lambda e: [e.email.split("@")[0]] if len(local_parts.get(
            e.email.split("@")[0], [])) == 1 else [])),
        ("name", table(lambda e: [canvas_file_name(e.name)] if roster.kind == "canvas" else [])),
    ]


@dataclass(frozen=True)
class Match:
    """A graded student's roster entry, or why there is none."""

    student: str
    entry: RosterEntry | None
    problem: str = ""


def match_students(students: list[str], roster: Roster, records: list[LmsRecord], normalise) -> list[Match]:
    """Each graded student's roster entry (see the module docstring for the rules).

    Parameters
    ----------
    students : list of str
        The gradebook's student ids.
    roster : Roster
    records : list of LmsRecord
        ``collect``'s records (Canvas user ids).
    normalise : callable
        collect's student-id normalisation.

    Returns
    -------
    list of Match
        In the order of ``students``; ``entry`` None with the reason when unmatched or ambiguous.
    """
    by_lms_id: dict[str, list[RosterEntry]] = {}
    for entry in roster.entries:
        if entry.lms_id:
            by_lms_id.setdefault(entry.lms_id, []).append(entry)
    user_ids: dict[str, set[str]] = {}
    for record in records:
        if record.lms_user_id:
            user_ids.setdefault(record.student, set()).add(record.lms_user_id)
    rules = [("Canvas user id", {s: [e for uid in sorted(ids) for e in by_lms_id.get(uid, [])]
                                 for s, ids in user_ids.items()}), *match_rules(roster, normalise)]
    matches = []
    for student in students:
        how, candidates = next(((how, table[student]) for how, table in rules if table.get(student)),
                               ("", []))
        unique = list({e.row: e for e in candidates}.values())
        if len(unique) == 1:
            matches.append(Match(student, unique[0]))
        elif unique:
            rows = ", ".join(str(e.row) for e in unique)
            matches.append(Match(student, None, f"matches several roster rows ({rows}) by {how}"))
        else:
            matches.append(Match(student, None, "no roster entry"))
    return matches


# ---- the import files -----------------------------------------------------------------------------


def number(value: float) -> str:
    """A score as the importers read it: ``7``, ``2.5``, ``2.333333`` (no exponent, no thousands)."""
    text = f"{round(float(value), 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _title(header: str) -> str:
    """The assignment title of a Canvas column header ``Title (id)`` (``Assignment.title_and_id``)."""
    found = re.fullmatch(r"(.*)\s+\((\d+)\)", header.strip())
    return found.group(1) if found else header.strip()


def assignment_header(kind: str, assignment: str, roster: Roster) -> str:
    """The column header of an assignment: the roster's own column for it when it has one (Canvas:
    ``Title (id)``, matched by id on import), else the assignment's name (Canvas: matched by
    title or created) or Moodle's ``<name> (Real)``."""
    for column in roster.columns:
        title = _title(column) if kind == "canvas" else re.sub(r"\s*\(Real\)$", "", column)
        if unicodedata.normalize("NFC", title).casefold() == assignment.casefold():
            return column
    return assignment if kind == "canvas" else f"{assignment} (Real)"


@dataclass
class LmsTable:
    """The grade import file of one LMS, as rows of cells, and what to tell the instructor.

    Attributes
    ----------
    header : list of str
    rows : list of list
        Cells; a :class:`str` is text (made spreadsheet-safe on writing), an :class:`Score` a
        cell the grader wrote.
    pending, unrostered : list of str
        One line per submission awaiting manual grading, per graded student not on the roster.
    points : dict
        Assignment -> points possible.
    """

    header: list[str]
    rows: list[list] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    unrostered: list[str] = field(default_factory=list)
    points: dict = field(default_factory=dict)


class Score(str):
    """A cell the grader itself wrote (a number, or Moodle's ``-``): never rewritten as text."""


def _grade_cell(kind: str, grade: _grades.AssignmentGrade | None) -> Score:
    if grade is None or grade.score is None:
        return Score(MOODLE_NO_GRADE if kind == "moodle" else "")
    return Score(number(grade.score))


def lms_table(kind: str, grades: list[_grades.AssignmentGrade], roster: Roster, records: list[LmsRecord],
              normalise) -> LmsTable:
    """The rows of a Canvas or Moodle grade import file.

    Parameters
    ----------
    kind : {"canvas", "moodle"}
    grades : list of AssignmentGrade
        Every student's grade on every assignment (:func:`grader.pipeline.grades.read_grades`).
    roster : Roster
    records : list of LmsRecord
    normalise : callable
        collect's student-id normalisation.

    Returns
    -------
    LmsTable
        One row per roster entry, in roster order; an empty (Moodle: ``-``) cell for no
        submission and for a submission awaiting manual grading.
    """
    assignments = sorted({g.assignment for g in grades})
    points = {g.assignment: g.max_score for g in grades}
    headers = [assignment_header(kind, a, roster) for a in assignments]
    submitted = sorted({g.student for g in grades if g.submitted})
    matches = match_students(submitted, roster, records, normalise)
    table = LmsTable([*(CANVAS_STUDENT_COLUMNS if kind == "canvas" else MOODLE_USER_COLUMNS), *headers],
                     points=points)
    table.unrostered = [f"{m.student}: {m.problem}; not in the {kind} file"
                        for m in matches if m.entry is None]
    owner = {m.entry.row: m.student for m in matches if m.entry is not None}
    by_key = {(g.student, g.assignment): g for g in grades}
    if kind == "canvas":
        table.rows.append([CANVAS_POINTS_POSSIBLE, "", "", "", "",
                           *(Score(number(points[a])) for a in assignments)])
    for entry in roster.entries:
        student = owner.get(entry.row)
        cells = [_grade_cell(kind, by_key.get((student, a)) if student else None) for a in assignments]
        if kind == "canvas":
            identity = [entry.name, entry.lms_id, entry.sis_user_id, entry.sis_login_id, entry.section]
        else:
            identity = [entry.first_name, entry.last_name, entry.id_number, entry.institution,
                        entry.department, entry.email]
        table.rows.append([*identity, *cells])
        for a in assignments:
            grade = by_key.get((student, a)) if student else None
            if grade is not None and grade.awaiting:
                table.pending.append(f"{student} {a}: {', '.join(grade.pending)} awaiting grading "
                                     f"({number(grade.points_so_far)}/{number(grade.max_score)} so far); "
                                     "left empty")
    return table


def write_table(path: Path, table: LmsTable) -> Path:
    """Write the table as CSV (UTF-8, commas); text cells made spreadsheet-safe, grader cells as written."""
    from .export import spreadsheet_safe

    def safe(cell):
        return str(cell) if isinstance(cell, Score) else spreadsheet_safe(cell)

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_safe(h) for h in table.header])
        writer.writerows([[safe(cell) for cell in row] for row in table.rows])
    return path


def export_lms(kind: str, grades: list[_grades.AssignmentGrade], roster: Roster, out_dir: Path, *,
               course_dir: Path):
    """Write ``canvas-grades.csv`` or ``moodle-grades.csv`` into ``out_dir``.

    Returns
    -------
    grader.pipeline.export.ExportResult

    Raises
    ------
    ExportError
        When the roster is another LMS's export.
    """
    from .collect import normalise_student_id
    from .export import ExportResult

    if roster.kind != kind:
        raise ExportError(f"--roster {roster.path} is {roster.kind.title()}'s gradebook export, not "
                          f"{kind.title()}'s")
    table = lms_table(kind, grades, roster, load_records(course_dir), normalise_student_id)
    path = write_table(Path(out_dir) / OUTPUT_NAMES[kind], table)
    return ExportResult([path], table.pending, table.unrostered, table.points)
