"""What Canvas's and Moodle's grade imports make of a CSV file: their published rules, in Python.

No LMS runs on this machine, so the files ``export`` writes are read back by these two readers,
each a line-by-line transcription of the importer's own parsing (the parts that decide whether
a file is accepted and which student gets which grade), with the rule's origin beside it:

- :func:`canvas_import` — ``app/models/gradebook_importer.rb`` in instructure/canvas-lms
  (``header?``, ``row_has_student_headers?``, ``update_column_count``, ``strip_non_assignment_columns``,
  ``parse_assignments`` / ``Assignment.title_and_id``, ``check_for_non_student_row``, ``process_pp``,
  ``process_student``, ``process_submissions``, ``no_score?``);
- :func:`moodle_import` — ``grade/import/csv/classes/load_data.php`` in moodle/moodle
  (``prepare_import_grade_data``, ``map_user_data_with_value``, ``check_user_exists``,
  ``update_grade_item``: ``''`` and ``-`` are no grade, a non-number aborts the import, an
  unknown user aborts it).

Each raises :class:`ImportRejected` where the LMS would refuse the file.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path


class ImportRejected(Exception):
    """The LMS would refuse this file (the message says which rule)."""


@dataclass
class CanvasImport:
    """What Canvas's importer read: assignments (title, id or None, points) and grades per user id."""

    assignments: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    grades: dict[str, dict[str, str | None]] = field(default_factory=dict)
    unknown_students: list[str] = field(default_factory=list)


NON_ASSIGNMENT = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
                  "Final Grade", "Override Score", "Override Grade", "Override Status")


def _rows(path):
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        # csv_stream: skip_lines: /^[;, ]+$/
        return [row for row in csv.reader(handle) if not re.fullmatch(r"[;, ]*", ",".join(row))]


def canvas_import(path, students: dict[str, dict]) -> CanvasImport:
    """Read a gradebook CSV as Canvas does, for a course whose students are ``students``.

    Parameters
    ----------
    path : path-like
    students : dict
        Canvas user id -> {"name", "sortable_name", "sis_user_id", "sis_login_id"}.

    Returns
    -------
    CanvasImport
        ``grades[user id][title]``: the cell, None when it is no score (blank or ``-``).
    """
    rows = _rows(path)
    header = rows[0]
    # row_has_student_headers?: length > 3, "Student" in the first cell, "ID" in the second.
    if not (len(header) > 3 and "Student" in header[0] and "ID" in header[1]):
        raise ImportRejected("invalid header row: Student, ID first")
    # update_column_count: 3 student columns (Student, ID, Section), +1 for SIS Login ID, or +2 for
    # SIS User ID then SIS Login ID (+ Integration ID, + Root Account).
    student_columns, sis_user, sis_login = 3, None, None
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        sis_login, student_columns = 2, 4
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        extra = 1 if re.search(r"Integration\s+ID", header[4] if len(header) > 4 else "") else 0
        sis_user, sis_login, student_columns = 2, 3, 5 + extra
    # header?: the last student information column must be Section.
    if "Section" not in header[student_columns - 1]:
        raise ImportRejected(f"invalid header row: column {student_columns} must be Section")
    result = CanvasImport()
    indices = []
    for index, name in enumerate(header[student_columns:], start=student_columns):
        if any(word in name for word in NON_ASSIGNMENT):
            continue
        found = re.fullmatch(r"(.*)\s+\((\d+)\)", name)  # Assignment.title_and_id
        title, canvas_id = (found.group(1), found.group(2)) if found else (name, None)
        result.assignments.append((title, canvas_id, None))
        indices.append(index)
    by_login = {s["sis_login_id"]: uid for uid, s in students.items() if s.get("sis_login_id")}
    by_sis = {s["sis_user_id"]: uid for uid, s in students.items() if s.get("sis_user_id")}
    for row in rows[1:]:
        if row and "Points Possible" in row[0]:  # check_for_non_student_row / process_pp
            result.assignments = [(t, i, row[j] if j < len(row) and row[j] else None)
                                  for (t, i, _), j in zip(result.assignments, indices, strict=True)]
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row):
            continue
        # process_student: the ID column, then SIS User ID, then SIS Login ID, then the name.
        uid = row[1] if row[1] in students else None
        uid = uid or (by_sis.get(row[sis_user]) if sis_user is not None else None)
        uid = uid or (by_login.get(row[sis_login]) if sis_login is not None else None)
        uid = uid or next((u for u, s in students.items() if row[0] in (s["name"], s["sortable_name"])), None)
        if uid is None:
            result.unknown_students.append(row[0])
            continue
        grades = {}
        for (title, _, _), index in zip(result.assignments, indices, strict=True):
            cell = row[index].strip() if index < len(row) else ""
            grades[title] = None if cell in ("", "-") else cell  # no_score?
        result.grades[uid] = grades
    return result


@dataclass
class MoodleImport:
    """What Moodle's CSV import read: grades per user, per mapped column (None: no grade)."""

    grades: dict[str, dict[str, float | None]] = field(default_factory=dict)


def _unformat_float(text):
    """Moodle's ``unformat_float($value, true)`` for a C locale: a number or False."""
    try:
        return float(text.strip())
    except ValueError:
        return False


def moodle_import(path, users: dict[str, str], *, map_from: str, item_columns: list[str]) -> MoodleImport:
    """Read a grade CSV as Moodle's import does, with a mapping chosen on its preview page.

    Parameters
    ----------
    path : path-like
    users : dict
        The value of the identifying field (e.g. an email) -> Moodle user id.
    map_from : str
        The column mapped to the user field ("Email address" -> useremail).
    item_columns : list of str
        Columns mapped to existing grade items (the others are ignored).

    Raises
    ------
    ImportRejected
        A row whose user cannot be mapped ("usermappingerrorusernotfound" aborts the import), or
        a grade that is not a number ("badgrade").
    """
    rows = _rows(path)
    header = [h.strip() for h in rows[0]]  # trim_headers
    if map_from not in header:
        raise ImportRejected(f"no column {map_from!r} to map users from")
    user_column = header.index(map_from)
    items = {header.index(c): c for c in item_columns}
    result = MoodleImport()
    for row in rows[1:]:
        if len(row) <= 1:  # "There is no data on this line"
            continue
        value = row[user_column].strip()
        user = users.get(value) if value else None  # check_user_exists; a blank user field is skipped
        if user is None:
            raise ImportRejected(f"user mapping error: {map_from} {value!r} not found")
        grades = {}
        for index, column in items.items():
            cell = row[index].strip()
            if cell in ("", "-"):  # update_grade_item: no grade
                grades[column] = None
                continue
            number = _unformat_float(cell)
            if number is False:
                raise ImportRejected(f"bad grade {cell!r} in {column}")
            grades[column] = number
        result.grades[user] = grades
    return result
