"""Does `python -m grader collect DIR` file every good notebook of a messy download where nbgrader
expects it, and report every bad one by name with the right reason?"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from grader.cli import main as grader_main
from grader.errors import CollectError
from grader.pipeline.collect import (
    TIMESTAMP_FORMAT,
    CollectResult,
    SkipFile,
    collect,
    normalise_student_id,
    parse_name,
    parse_path,
)
from grader.pipeline.course import NOTEBOOKS, SOLUTIONS, assignments, nbgrader_config

A1, A2, A3, A4, A5, A6, *_ = assignments(SOLUTIONS)  # the first six are enough here
T0 = 1_714_572_187  # 2024-05-01 14:03:07 UTC
TREE_STAMP = "2024-03-01 09:30:00.250000 UTC"


def student_copy(name):
    """The released (student) version of an assignment, as bytes."""
    return (NOTEBOOKS / name / f"{name}.ipynb").read_bytes()


def put(root, relative, data, mtime=T0):
    """Write ``data`` at ``root/relative`` with the given modification time; return the path."""
    path = Path(root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.utime(path, (mtime, mtime))
    return path


def stamp(seconds):
    """nbgrader's timestamp text for a POSIX time."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime(TIMESTAMP_FORMAT)


def invalid_notebook():
    """A real notebook with a code cell that lost its required ``outputs``."""
    data = json.loads(student_copy(A2))
    del next(c for c in data["cells"] if c["cell_type"] == "code")["outputs"]
    return json.dumps(data)


def foreign_notebook():
    """A valid notebook with no nbgrader cells at all."""
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))


#: (student, assignment) -> (origin relative to the download folder, modification time)
GOOD = {
    ("alice", A1): ("alice_01_attention_weights.ipynb", T0 + 100),
    ("bob", A2): ("02_scaled_dot_product-bob.ipynb", T0),
    ("carol", A3): ("carol-03_additive_attention.ipynb", T0),
    ("smithjohn", A1): ("smithjohn_12345_67890_01_attention_weights.ipynb", T0),
    ("doejane", A2): ("doejane_late_23456_78901_02_scaled_dot_product-1.ipynb", T0 + 50),
    ("dave", A4): ("section_b/week 2/dave_04_multi_head_attention.ipynb", T0),
    ("josé_núñez", A5): ("José Núñez_05_backprop_through_attention.ipynb", T0),
    ("erin", A6): ("ERIN_06_memory_efficient_attention (1).ipynb", T0),
    ("frank", A1): ("frank/01_attention_weights/01_attention_weights.ipynb", T0),
}

#: origin relative to the download folder -> (content, expected reason's beginning)
BAD = {
    "alice-01_attention_weights.ipynb": (
        student_copy(A1), "duplicate of {root}/alice_01_attention_weights.ipynb"),
    "doejane_23456_78900_02_scaled_dot_product.ipynb": (
        student_copy(A2), "duplicate of {root}/doejane_late_23456_78901_02_scaled_dot_product-1.ipynb"),
    "notes.txt": ("remember to grade", "not a notebook (.txt file)"),
    "submissions.zip": (b"PK\x03\x04", "not a notebook (.zip file; unpack archives first)"),
    "grace_01_attention_weights.json": (student_copy(A1), "not a notebook (.json file)"),
    "henry_01_attention_weights.ipynb": ('{"a": 1}', "not a notebook: JSON without notebook cells"),
    "ivan_01_attention_weights.ipynb": ("{not json", "corrupt JSON ("),
    "judy_02_scaled_dot_product.ipynb": (invalid_notebook(), "invalid notebook ("),
    "kim_01_attention_weights.ipynb": (
        student_copy(A3), f"wrong assignment: named {A1} but its cells belong to {A3}"),
    "leo_02_scaled_dot_product.ipynb": (
        foreign_notebook(), f"wrong assignment: named {A2} but none of its cells belong"),
    "section_b/mia_07_transformers.ipynb": (student_copy(A1), "unknown assignment: the file name names none"),
    "01_attention_weights.ipynb": (student_copy(A1), "no student id in the file name"),
    "ni[c]k_01_attention_weights.ipynb": (student_copy(A1), "unusable student id 'ni[c]k': '[]' not allowed"),
    "alice_01_attention_weights_final.ipynb": (student_copy(A1), "unrecognised file name: it mentions"),
    "frank/01_attention_weights/data.csv": ("x,y\n", "not a notebook (.csv file)"),
    "archive/greta/01_attention_weights/01_attention_weights.ipynb": (
        student_copy(A1), "an nbgrader tree below the top of the collected folder"),
}

#: Files that are not submissions at all and are passed over without a word.
IGNORED = {
    ".ipynb_checkpoints/alice_01_attention_weights-checkpoint.ipynb": student_copy(A1),
    "section_b/.DS_Store": b"\0",
    "__MACOSX/._alice_01_attention_weights.ipynb": b"\0",
}


@pytest.fixture
def downloads(tmp_path):
    """A messy LMS download: every accepted form, every bad kind, duplicates, checkpoints."""
    root = tmp_path / "downloads"
    for (_, assignment), (relative, mtime) in GOOD.items():
        put(root, relative, student_copy(assignment), mtime)
    put(root, "frank/01_attention_weights/timestamp.txt", TREE_STAMP + "\n")  # written by frank: not trusted
    for relative, (content, _) in BAD.items():
        put(root, relative, content)
    for relative, content in IGNORED.items():
        put(root, relative, content)
    return root


def skipped_by_name(result, root):
    return {str(s.origin.relative_to(root)): s.reason for s in result.skipped}


def test_every_good_notebook_lands_in_nbgraders_place(downloads, tmp_path):
    """Is each accepted form collected for the right student and assignment, bytes unchanged?"""
    course = tmp_path / "course"
    result = collect(downloads, course)
    assert isinstance(result, CollectResult)
    found = {(c.student, c.assignment): c for c in result.collected}
    assert set(found) == set(GOOD)
    for (student, assignment), (relative, _) in GOOD.items():
        item = found[(student, assignment)]
        assert item.origin == downloads / relative
        assert item.destination == course / "submitted" / student / assignment / f"{assignment}.ipynb"
        assert item.destination.read_bytes() == (downloads / relative).read_bytes()
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted({s for s, _ in GOOD})


def test_every_bad_file_is_reported_by_name_with_its_reason(downloads, tmp_path):
    """Is each bad file skipped once, under its own path, with the reason of its kind?"""
    reasons = skipped_by_name(collect(downloads, tmp_path / "course"), downloads)
    assert set(reasons) == set(BAD)
    for relative, (_, expected) in BAD.items():
        assert reasons[relative].startswith(expected.format(root=downloads)), (relative, reasons[relative])
        assert "\n" not in reasons[relative]


def test_checkpoints_and_archive_metadata_are_ignored(downloads, tmp_path):
    """Are Jupyter checkpoints, hidden files and __MACOSX neither collected nor reported?"""
    result = collect(downloads, tmp_path / "course")
    seen = {c.origin for c in result.collected} | {s.origin for s in result.skipped}
    assert not seen & {downloads / relative for relative in IGNORED}


def test_no_file_time_is_ever_a_submission_time(downloads, tmp_path):
    """Without the LMS's times, does no submission get a timestamp.txt: neither its file's
    modification time nor a timestamp.txt found in a student's folder?"""
    course = tmp_path / "course"
    result = collect(downloads, course)
    assert not list((course / "submitted").rglob("timestamp.txt"))
    assert all(c.record.submitted_at is None for c in result.collected)


def times_file(tmp_path, rows, header="file,submitted_at"):
    """A submissions file with the given CSV rows."""
    path = tmp_path / "submissions.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_the_lms_times_become_nbgraders_timestamps(downloads, tmp_path):
    """Does nbgrader's CourseDirectory locate every submission and read the time the LMS gave it
    (by file, by Canvas user id, by student), whatever the file's modification time?"""
    from nbgrader.coursedir import CourseDirectory

    course = tmp_path / "course"
    rows = [f"{relative},{stamp(mtime + 7200).replace(' UTC', '').replace(' ', 'T')}Z"
            for (student, _), (relative, mtime) in GOOD.items() if student not in ("smithjohn", "carol")]
    rows += [f",{stamp(T0 + 7200 * 2).replace(' UTC', '').replace(' ', 'T')}+00:00,12345,",
             f",{stamp(T0 + 7200).replace(' UTC', '').replace(' ', 'T')}Z,,carol"]
    times = times_file(tmp_path, rows, header="file,submitted_at,user_id,student")
    result = collect(downloads, course, submission_times=times)
    assert result.warnings == []
    coursedir = CourseDirectory(config=nbgrader_config(course))
    expected = {key: mtime + 7200 for key, (_, mtime) in GOOD.items()}
    expected[("smithjohn", A1)] = T0 + 7200 * 2
    for (student, assignment), seconds in expected.items():
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        assert (folder / f"{assignment}.ipynb").is_file()
        naive = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).replace(tzinfo=None)
        assert coursedir.get_existing_timestamp(str(folder)) == naive, student
    pattern = coursedir.format_path(coursedir.submitted_directory, "*", A1)
    assert sorted(Path(p).parent.name for p in glob.glob(pattern)) == ["alice", "frank", "smithjohn"]


@pytest.mark.parametrize(("rows", "message"), [
    (["alice_01_attention_weights.ipynb,2024-05-01 14:03:07"], "has no time zone"),
    (["alice_01_attention_weights.ipynb,yesterday"], "row 2"),
    (["a.ipynb,2024-05-01T14:03:07Z", "a.ipynb,2024-05-02T14:03:07Z"], "rows 2 and 3"),
])
def test_a_submissions_file_without_zones_or_with_twice_the_same_file_is_refused(downloads, tmp_path, rows,
                                                                                  message):
    """Is a time without a zone, an unreadable time or a file given two times an error naming the row?"""
    with pytest.raises(CollectError, match=message):
        collect(downloads, tmp_path / "course", submission_times=times_file(tmp_path, rows))


def test_canvas_names_keep_the_user_id_and_the_late_flag(downloads, tmp_path):
    """Does collect record Canvas's user id and LATE flag (and nothing for other names), and warn that a
    LATE file without a time will not be counted late?"""
    from grader.pipeline.lms import load_records

    course = tmp_path / "course"
    result = collect(downloads, course)
    records = {(r.student, r.assignment): r for r in load_records(course)}
    assert records[("smithjohn", A1)].lms_user_id == "12345" and not records[("smithjohn", A1)].late
    assert records[("doejane", A2)].lms_user_id == "23456" and records[("doejane", A2)].late
    assert records[("alice", A1)].lms == "" and records[("alice", A1)].lms_user_id == ""
    assert set(records) == set(GOOD)
    assert result.warnings == [f"doejane {A2}: LATE in Canvas, but no submission time for it "
                               "(--submissions): nbgrader will not count it late"]


def test_duplicates_follow_the_lms_order_not_the_files_times(tmp_path):
    """Of one student's files, is the later Canvas upload kept (file id), then the later LMS time, even
    when the modification times say the opposite?"""
    root = tmp_path / "downloads"
    put(root, f"leesam_9_100_{A1}.ipynb", student_copy(A1), T0 + 999)
    put(root, f"leesam_9_101_{A1}-1.ipynb", student_copy(A1), T0)
    put(root, f"ann_{A1}.ipynb", student_copy(A1), T0 + 999)
    put(root, f"ann-{A1}.ipynb", student_copy(A1), T0)
    result = collect(root, tmp_path / "course")
    kept = {c.student: c.origin.name for c in result.collected}
    assert kept == {"leesam": f"leesam_9_101_{A1}-1.ipynb", "ann": f"ann_{A1}.ipynb"}  # ann: path order
    times = times_file(tmp_path, [f"ann_{A1}.ipynb,2024-05-01T10:00:00Z",
                                  f"ann-{A1}.ipynb,2024-05-01T11:00:00Z"])
    again = collect(root, tmp_path / "course2", submission_times=times)
    assert {c.student: c.origin.name for c in again.collected}["ann"] == f"ann-{A1}.ipynb"


def test_two_canvas_users_with_one_name_stay_two_students(tmp_path):
    """Do two Canvas users whose names give one id become two students (the first recorded keeps the id),
    instead of one being dropped as the other's duplicate?"""
    root = tmp_path / "downloads"
    put(root, f"smithjohn_700_1_{A1}.ipynb", student_copy(A1))
    course = tmp_path / "course"
    collect(root, course)
    put(root, f"smithjohn_42_2_{A1}.ipynb", student_copy(A1))
    result = collect(root, course)
    assert sorted((c.student, c.record.lms_user_id) for c in result.collected) == [
        ("smithjohn", "700"), ("smithjohn-42", "42")]
    assert result.skipped == []


def test_collecting_twice_gives_the_same_tree_and_report(downloads):
    """Is a second run, with the course folder inside DIR, the same as the first (no new duplicates)?"""
    course = downloads / "course"
    first = collect(downloads, course)
    files = {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()}
    second = collect(downloads, course)
    assert second == first
    assert {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()} == files


def test_a_restricted_run_skips_the_other_assignments_and_says_so(downloads, tmp_path):
    """With assignments=[A1], are files of other assignments skipped as not selected?"""
    result = collect(downloads, tmp_path / "course", assignments=[A1])
    assert {(c.student, c.assignment) for c in result.collected} == {k for k in GOOD if k[1] == A1}
    reasons = skipped_by_name(result, downloads)
    assert reasons["02_scaled_dot_product-bob.ipynb"] == f"assignment {A2} not selected (--assignment {A1})"
    assert reasons["kim_01_attention_weights.ipynb"].startswith("wrong assignment")


def test_an_unknown_assignment_to_restrict_to_is_an_error(downloads, tmp_path):
    """Does naming an assignment the course lacks raise a CollectError naming it?"""
    with pytest.raises(CollectError, match="99_nothing"):
        collect(downloads, tmp_path / "course", assignments=["99_nothing"])


def test_an_nbgrader_tree_is_collected_and_can_be_collected_in_place(tmp_path):
    """Is a tree <s>/<a>/<a>.ipynb at the top of DIR collected (its timestamp.txt not trusted), and
    is re-collecting course/submitted a no-op?"""
    tree = tmp_path / "export" / "submitted"
    put(tree, f"ann/{A2}/{A2}.ipynb", student_copy(A2), T0 + 3)
    put(tree, f"ann/{A2}/timestamp.txt", TREE_STAMP)
    put(tree, f"Ben/{A3}/{A3}.ipynb", student_copy(A3), T0 + 7)
    course = tmp_path / "course"
    result = collect(tree, course)
    assert [(c.student, c.assignment) for c in result.collected] == [("ann", A2), ("ben", A3)]
    assert result.skipped == []
    assert not (course / f"submitted/ann/{A2}/timestamp.txt").exists()  # ann's own is not trusted

    again = collect(course / "submitted", course)
    assert [(c.student, c.assignment, c.destination) for c in again.collected] == \
        [(c.student, c.assignment, c.destination) for c in result.collected]
    assert (course / f"submitted/ann/{A2}/{A2}.ipynb").read_bytes() == student_copy(A2)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Alice", "alice"), ("  José  Núñez ", "josé_núñez"), ("j.doe@uni.edu", "j.doe@uni.edu"),
    ("e\u0301mile", "\u00e9mile"), ("a-b_c+1", "a-b_c+1"),
    ("\uff41\uff4c\uff49\uff43\uff45", "alice"),  # full-width letters
    ("\u212aim", "kim"),  # the Kelvin sign
    ("STRASSE", "strasse"), ("Stra\u00dfe", "strasse"),  # case folding
])
def test_student_ids_are_normalised_conservatively(raw, expected):
    """Are case, outer and inner whitespace and look-alike characters (NFKC) normalised, nothing else?"""
    assert normalise_student_id(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "no student id"), ("   ", "no student id"), ("a/b", "'/' not allowed"), ("x*", "'*' not allowed"),
    (".hidden", "must not start with '.'"), ("-rf", "must not start with '-'"),
    ("=1+1", "must not start with '='"), ("@sum", "must not start with '@'"),
    ("+cmd", "must not start with '+'"),
    ("ann\x07", "control characters"), ("ann\u200bann", "control characters"),
    ("a" * 129, "longer than 128"), ("semi;colon", "';' not allowed"),
])
def test_unusable_student_ids_are_rejected_with_a_reason(raw, reason):
    """Is an id that cannot be a folder name or a safe key rejected, saying why?"""
    with pytest.raises(SkipFile, match=re.escape(reason)):
        normalise_student_id(raw)


@pytest.mark.parametrize(("relative", "expected"), [
    ("alice_01_attention_weights.ipynb", ("alice", A1)),
    ("mary-jane-01_attention_weights.ipynb", ("mary-jane", A1)),
    ("01_attention_weights-mary_jane.ipynb", ("mary_jane", A1)),
    ("Alice_01_Attention_Weights.ipynb", ("alice", A1)),
    ("lee_late_1_2_01_attention_weights-12.ipynb", ("lee", A1)),
    ("lee_1_2_my 01_attention_weights copy.ipynb", ("lee", A1)),
    ("lee/01_attention_weights/01_attention_weights.ipynb", ("lee", A1)),
    ("bob_2_02_scaled_dot_product.ipynb", ("bob_2", A2)),
    ("ada_01_attention_weights-1.ipynb", ("ada", A1)),  # an LMS re-upload number
    ("LATE_anon_x7k2q_88_01_attention_weights.ipynb", ("anon_x7k2q", A1)),  # Canvas, anonymous
])
def test_file_names_are_parsed_by_the_documented_rules(relative, expected):
    """Does each documented pattern give the student and assignment it should?"""
    assert parse_path(Path(relative), [A1, A2]) == expected


@pytest.mark.parametrize(("relative", "expected"), [
    ("smithjohn_12345_67890_01_attention_weights.ipynb", ("canvas", "12345", False, 67890, 0)),
    ("smithjohn_LATE_12345_67891_01_attention_weights-2.ipynb", ("canvas", "12345", True, 67891, 2)),
    ("LATE_anon_x7k2q_88_01_attention_weights.ipynb", ("canvas", "anon_x7k2q", True, 88, 0)),
    ("alice_01_attention_weights-3.ipynb", ("", "", False, -1, 3)),
])
def test_canvas_names_give_the_user_id_the_late_flag_and_the_upload_order(relative, expected):
    """Does a Canvas file name give its user id, LATE flag, file id and re-upload number?"""
    parsed = parse_name(Path(relative), [A1, A2])
    assert (parsed.lms, parsed.lms_user_id, parsed.late, parsed.attachment, parsed.reupload) == expected


def test_a_release_folder_without_student_is_rejected():
    """Is <assignment>/<assignment>.ipynb directly in DIR refused for lack of a student id?"""
    with pytest.raises(SkipFile, match="no student id"):
        parse_path(Path(f"{A1}/{A1}.ipynb"), [A1])


def main(argv):
    """`python -m grader collect ARGV`, in this process; its exit status."""
    return grader_main(["collect", *argv])


def test_main_prints_one_line_per_file_and_a_summary(downloads, tmp_path, capsys):
    """Does main exit 0 with a line per collected and skipped file, a warning for the LATE file without a
    time (marked LATE) and a closing summary?"""
    course = tmp_path / "course"
    assert main([str(downloads), "--course-dir", str(course)]) == 0
    lines = capsys.readouterr().out.splitlines()
    collected = [line for line in lines if line.startswith("collected ") and " -> " in line]
    skipped = [line for line in lines if line.startswith("skipped ")]
    warnings = [line for line in lines if line.startswith("warning ")]
    assert len(collected) == len(GOOD) and len(skipped) == len(BAD) and len(warnings) == 1
    assert len(lines) == len(GOOD) + len(BAD) + 2
    assert [line for line in collected if "(LATE)" in line] == [
        line for line in collected if line.startswith(f"collected doejane {A2} (LATE): ")]
    for relative in BAD:
        assert sum(line.startswith(f"skipped {downloads / relative}: ") for line in skipped) == 1
    assert lines[-1] == (f"collected {len(GOOD)} submission(s) of {len({s for s, _ in GOOD})} student(s), "
                         f"6 assignment(s) into {course / 'submitted'}; skipped {len(BAD)} file(s)")


def test_main_takes_repeated_assignments(downloads, tmp_path, capsys):
    """Is --assignment repeatable, restricting the run to the named assignments?"""
    assert main([str(downloads), "--assignment", A1, "--assignment", A3, "--course-dir", str(tmp_path)]) == 0
    assert "4 submission(s)" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: put(p, "file.ipynb", "{}")])
def test_main_exits_2_when_dir_is_not_a_folder(tmp_path, capsys, make):
    """Does a missing DIR or a file given as DIR exit 2 with a message naming it, printing nothing else?"""
    source = make(tmp_path)
    assert main([str(source), "--course-dir", str(tmp_path / "course")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("grader collect: ") and str(source) in err
    assert not (tmp_path / "course").exists()


def test_symbolic_links_are_never_followed(tmp_path):
    """Is a student file that links elsewhere (to the solutions, say) reported and not collected,
    and is a linked folder not searched?"""
    root = tmp_path / "downloads"
    put(root, f"ann_{A1}.ipynb", student_copy(A1))
    (root / f"mallory_{A1}.ipynb").symlink_to(SOLUTIONS / A1 / f"{A1}.ipynb")
    (root / "elsewhere").symlink_to(SOLUTIONS, target_is_directory=True)
    result = collect(root, tmp_path / "course")
    assert [c.student for c in result.collected] == ["ann"]
    reasons = skipped_by_name(result, root)
    assert reasons[f"mallory_{A1}.ipynb"] == "a symbolic link: not followed"
    assert reasons["elsewhere"] == "a symbolic link: not followed"
    assert not (tmp_path / "course" / "submitted" / "mallory").exists()
