"""People: name votes, clustering tracks into students, camera-off time, the roster."""

import numpy as np
import pytest

from lecturelens.errors import InputError
from lecturelens.people import (CameraOffLog, NameVotes, PeopleClusterer, Student,
                                TrackSummary, build_students, fold, name_similarity,
                                read_roster, snap_to_roster, truncation_of)


def _votes(*readings) -> NameVotes:
    v = NameVotes()
    for text, conf in readings:
        v.add(text, conf)
    return v


def _track(tid, start, end, name=None, emb=None, fps=1.0, conf=0.9, reads=3) -> TrackSummary:
    votes = _votes(*[(name, conf)] * reads) if name else NameVotes()
    return TrackSummary(tid, float(start), float(end), int(round((end - start) * fps)) + 1,
                        None if emb is None else np.asarray(emb, np.float32), votes)


def _unit(k, dim=8) -> np.ndarray:
    e = np.zeros(dim, np.float32)
    e[k] = 1.0
    return e


def _ids(groups):
    return [[t.track_id for t in g] for g in groups]


# ---------------------------------------------------------------- names


def test_fold_and_name_similarity():
    assert fold("  José   MUÑOZ ") == "jose munoz"
    assert fold("Søren") == "søren"  # no decomposition: stays as is
    assert name_similarity("José Muñoz", "Jose Munoz") == 100.0
    assert name_similarity("Ingrid Nilsson", "Ingrid Nilson") >= 85
    assert name_similarity("Ana García", "Ben Okafor") < 60


def test_name_votes_group_ocr_slips():
    v = _votes(("Ingrid Nilsson", 0.9), ("Ingrid Nilsson", 0.9), ("Ingrid Nilson", 0.95),
               ("Ingrid Nilsson", 0.9))
    name, conf = v.best()
    assert name == "Ingrid Nilsson" and v.n == 4
    assert conf == pytest.approx(np.mean([0.9, 0.9, 0.95, 0.9]))  # one group: all the weight


def test_name_votes_slips_outvote_a_single_better_read():
    # each slip has less weight than the stray name, but together they win
    v = _votes(("Ingrid Nilsson", 0.7), ("Ingrid Nilson", 0.7), ("lngrid Nilsson", 0.7),
               ("Qing Li", 0.95))
    name, conf = v.best()
    assert name in {"Ingrid Nilsson", "Ingrid Nilson", "lngrid Nilsson"}
    assert name != "Qing Li"
    assert conf == pytest.approx(2.1 / 3.05 * 0.7)


def test_name_votes_empty_and_merge():
    assert NameVotes().best() == ("", 0.0) and NameVotes().n == 0
    a, b = _votes(("Ana García", 0.9)), _votes(("Ana Garcia", 0.8), ("Ben Okafor", 0.5))
    a.merge(b)
    assert a.n == 3 and a.best()[0] == "Ana García"
    assert b.n == 2  # the merged-from votes are unchanged


# ---------------------------------------------------------------- clustering


def test_tracks_with_the_same_name_merge():
    tracks = [_track(1, 0, 10, "Ana García", _unit(0)),
              _track(2, 0, 10, "Ben Okafor", _unit(1)),
              # after a reshuffle: new tracks, faces far apart from before (lighting), OCR slip
              _track(3, 11, 20, "Ana Garcia", _unit(2)),
              _track(4, 11, 20, "Ben Okafor", None)]
    groups = PeopleClusterer().cluster(tracks)
    assert _ids(groups) == [[1, 3], [2, 4]]


def test_confidently_different_names_never_merge_even_with_identical_faces():
    same = _unit(0)  # a mirrored camera or twins: identical embeddings
    tracks = [_track(1, 0, 10, "Ana García", same), _track(2, 11, 20, "Ben Okafor", same),
              _track(3, 21, 30, "Chloé Martin", same)]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[1], [2], [3]]


def test_co_occurring_tracks_never_merge_even_with_the_same_name():
    e = _unit(0)
    tracks = [_track(1, 0, 10, "Ana García", e), _track(2, 5, 15, "Ana García", e),
              _track(3, 3, 3, None, e), _track(4, 3, 3, None, e)]  # two faces, one instant
    groups = PeopleClusterer().cluster(tracks)
    assert all(len([t for t in g if t.track_id in (1, 2)]) <= 1 for g in groups)
    assert all(len([t for t in g if t.track_id in (3, 4)]) <= 1 for g in groups)


def test_touching_tracks_are_not_co_occurring():
    tracks = [_track(1, 0, 10, "Ana García"), _track(2, 10, 20, "Ana García")]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[1, 2]]
    assert _ids(PeopleClusterer(overlap_tolerance=0.0).cluster(
        [_track(1, 0, 10.5, "Ana García"), _track(2, 10, 20, "Ana García")])) == [[1], [2]]
    assert _ids(PeopleClusterer(overlap_tolerance=1.0).cluster(
        [_track(1, 0, 10.5, "Ana García"), _track(2, 10, 20, "Ana García")])) == [[1, 2]]


def test_unnamed_track_joins_the_named_cluster_with_a_close_face():
    clusterer = PeopleClusterer(same_person_distance=0.6)  # faces alone: below 0.48
    ana, ben = _unit(0), _unit(1)  # 1.41 apart
    near_ana = ana + np.float32(0.3) * _unit(2)  # 0.3 from Ana
    tracks = [_track(1, 0, 10, "Ana García", ana), _track(2, 0, 10, "Ben Okafor", ben),
              _track(3, 12, 20, None, near_ana)]
    assert _ids(clusterer.cluster(tracks)) == [[1, 3], [2]]


def test_unnamed_track_stays_apart_beyond_the_threshold():
    clusterer = PeopleClusterer(same_person_distance=0.6, face_margin=0.8)
    ana = _unit(0)
    for d, joined in [(0.47, True), (0.5, False), (0.55, False), (0.9, False)]:
        other = ana + np.float32(d) * _unit(2)
        tracks = [_track(1, 0, 10, "Ana García", ana), _track(2, 12, 20, None, other)]
        assert (len(clusterer.cluster(tracks)) == 1) is joined, d


def test_unnamed_track_without_embedding_stays_apart():
    tracks = [_track(1, 0, 10, "Ana García", _unit(0)), _track(2, 12, 20, None, None)]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[1], [2]]


def test_unnamed_fragments_merge_by_face_and_groups_come_in_order_of_appearance():
    a, b = _unit(0), _unit(1)
    tracks = [_track(5, 30, 40, None, a + np.float32(0.1) * _unit(3)),
              _track(4, 20, 29, None, b),
              _track(3, 0, 10, None, a)]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[3, 5], [4]]


def test_cluster_nothing():
    assert PeopleClusterer().cluster([]) == []


# ---------------------------------------------------------------- camera off


def test_camera_off_log_accounts_seconds():
    log = CameraOffLog()
    log.seen(0.0, [("Ana García", 0.9)])
    log.seen(2.0, [("Ana García", 0.9), ("Ben Okafor", 0.8)])
    log.seen(5.0, [])  # both cameras on again
    log.seen(7.0, [("Ben Okafor", 0.9)])
    log.close(10.0)
    assert log.seconds == {"Ana García": 5.0, "Ben Okafor": 6.0}
    assert log.first == {"Ana García": 0.0, "Ben Okafor": 2.0}
    assert log.last == {"Ana García": 2.0, "Ben Okafor": 10.0}
    assert log.votes["Ben Okafor"].n == 2


def test_camera_off_log_groups_ocr_slips_under_one_name():
    log = CameraOffLog()
    log.seen(0.0, [("Ingrid Nilsson", 0.9)])
    log.seen(1.0, [("Ingrid Nilson", 0.8)])
    log.seen(2.0, [("Ingrid Nilsson", 0.9)])
    log.close(4.0)
    assert list(log.seconds) == ["Ingrid Nilsson"] and log.seconds["Ingrid Nilsson"] == 4.0
    assert log.votes["Ingrid Nilsson"].n == 3


def test_camera_off_log_close_twice_does_not_double_count():
    log = CameraOffLog()
    log.seen(1.0, [("Ana García", 0.9)])
    log.close(3.0)
    log.close(5.0)
    assert log.seconds["Ana García"] == 2.0


# ---------------------------------------------------------------- students


def test_build_students_numbers_by_first_appearance_and_names_unknowns():
    groups = [[_track(7, 10, 19, "Ben Okafor", _unit(1))],
              [_track(3, 0, 9, "Ana García", _unit(0)), _track(9, 30, 39, "Ana García")],
              [_track(4, 5, 14, None, _unit(2))],
              [_track(8, 20, 29, None)]]
    students = build_students(groups, CameraOffLog(), fps=2.0)
    assert [(s.student_id, s.name) for s in students] == [
        ("S01", "Ana García"), ("S02", "Unknown 1"), ("S03", "Ben Okafor"), ("S04", "Unknown 2")]
    ana, unk, _, unk2 = students
    assert ana.tracks == [3, 9] and ana.first_seen == 0.0 and ana.last_seen == 39.0
    assert ana.seconds_visible == pytest.approx(20 / 2.0)  # 10 + 10 frames at 2 fps
    assert ana.named and ana.ocr_name == "Ana García" and ana.name_confidence > 0.8
    assert np.allclose(ana.embedding, _unit(0)) and ana.embedding.dtype == np.float32
    assert not unk.named and unk.ocr_name == "" and unk.name_confidence == 0.0
    assert unk2.embedding is None
    assert all(s.on_roster == "" and s.seconds_camera_off == 0.0 for s in students)


def test_build_students_adds_camera_off_only_students_and_merges_by_name():
    log = CameraOffLog()
    log.seen(0.0, [("Léa Dubois", 0.9), ("Ana Garcia", 0.9)])  # Ana's camera off first
    log.seen(4.0, [("Léa Dubois", 0.9)])
    log.seen(30.0, [])
    log.close(40.0)
    groups = [[_track(1, 4, 20, "Ana García", _unit(0))], [_track(2, 2, 20, "Ben Okafor")]]
    students = build_students(groups, log, fps=1.0)
    by_name = {s.name: s for s in students}
    # numbered by first appearance, camera off or on (Ana's and Léa's tie at 0 s keeps the
    # face student first)
    assert [(s.student_id, s.name) for s in students] == [
        ("S01", "Ana García"), ("S02", "Léa Dubois"), ("S03", "Ben Okafor")]
    ana, lea = by_name["Ana García"], by_name["Léa Dubois"]
    assert ana.tracks == [1] and ana.seconds_camera_off == 4.0 and ana.first_seen == 0.0
    assert ana.seconds_visible == 17.0
    assert lea.tracks == [] and lea.seconds_visible == 0.0 and lea.embedding is None
    assert lea.seconds_camera_off == 30.0 and lea.first_seen == 0.0
    assert lea.named and lea.on_roster == ""


def test_camera_off_name_cut_short_joins_the_one_student_it_begins():
    log = CameraOffLog()
    for t in range(10, 20):  # more sightings of the cut name than of the whole one
        log.seen(float(t), [("Thérèse L", 0.9), ("Anna M", 0.9)])
    log.close(20.0)
    groups = [[_track(1, 0, 9, "Thérèse Lemaître", _unit(0))],
              [_track(2, 0, 9, "Anna Müller", _unit(1))], [_track(3, 0, 9, "Anna Meyer")]]
    students = build_students(groups, log, fps=1.0)
    by_name = {s.name: s for s in students}
    assert by_name["Thérèse Lemaître"].seconds_camera_off == 10.0
    # "Anna M" begins two students' names: it stays a student of its own
    assert sorted(by_name) == ["Anna M", "Anna Meyer", "Anna Müller", "Thérèse Lemaître"]
    assert truncation_of("Thérèse Lema", "Thérèse Lemaître")
    assert not truncation_of("Thérèse", "Thérèse Lemaître")  # a first name alone is not


def test_build_students_with_roster_snaps_names():
    groups = [[_track(1, 0, 9, "Jose Munoz")], [_track(2, 0, 9, "Zed Zebra")]]
    students = build_students(groups, CameraOffLog(), fps=1.0,
                              roster=["José Muñoz", "Léa Dubois"])
    assert [(s.name, s.ocr_name, s.on_roster) for s in students] == [
        ("José Muñoz", "Jose Munoz", "yes"), ("Zed Zebra", "Zed Zebra", "no")]


# ---------------------------------------------------------------- roster


def test_read_roster_name_column(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("email,Name\nj@x.org,José Muñoz\nl@x.org, Léa Dubois \n,\nb@x.org,\n",
                 encoding="utf-8")
    assert read_roster(p) == ["José Muñoz", "Léa Dubois"]


def test_read_roster_headerless_one_per_row(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("Ana García\n\nBen Okafor\n\"Okafor, Ben Jr\"\n", encoding="utf-8")
    assert read_roster(p) == ["Ana García", "Ben Okafor", "Okafor, Ben Jr"]


def test_read_roster_bom_and_nfc(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes("name\nJose\u0301 Mun\u0303oz\nLéa Dubois\n".encode("utf-8-sig"))
    names = read_roster(p)
    assert names == ["José Muñoz", "Léa Dubois"]
    assert names[0] == "Jos\u00e9 Mu\u00f1oz"  # composed (NFC)
    p.write_bytes("Ana García\n".encode("utf-8-sig"))  # BOM, no header
    assert read_roster(p) == ["Ana García"]


@pytest.mark.parametrize("content, words", [
    (b"", "the roster is empty"),
    (b"\n  \n,\n", "the roster is empty"),
    (b"name\n", "no names in the roster"),
    (bytes(range(256)) * 8, "cannot read the roster"),
])
def test_read_roster_bad_files(tmp_path, content, words):
    p = tmp_path / "r.csv"
    p.write_bytes(content)
    with pytest.raises(InputError, match=words) as err:
        read_roster(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_read_roster_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.csv: roster file not found"):
        read_roster(tmp_path / "missing.csv")


def _student(sid, name) -> Student:
    return Student(sid, name, 0.9, [1], 10.0, 0.0, 0.0, 10.0, None, ocr_name=name)


def test_snap_to_roster_restores_accents_and_marks_membership():
    students = [_student("S01", "Jose Munoz"), _student("S02", "Lea Dubois"),
                _student("S03", "Ingrid Nilson"), _student("S04", "Unknown 1"),
                _student("S05", "Zed Zebra")]
    roster = ["José Muñoz", "Léa Dubois", "Ingrid Nilsson", "Ben Okafor"]
    absent = snap_to_roster(students, roster)
    assert [(s.name, s.on_roster) for s in students] == [
        ("José Muñoz", "yes"), ("Léa Dubois", "yes"), ("Ingrid Nilsson", "yes"),
        ("Unknown 1", "no"), ("Zed Zebra", "no")]
    assert [s.ocr_name for s in students][:3] == ["Jose Munoz", "Lea Dubois", "Ingrid Nilson"]
    assert absent == ["Ben Okafor"]


def test_snap_to_roster_everyone_absent_and_min_similarity():
    students = [_student("S01", "Ana Garcia")]
    assert snap_to_roster(students, ["Ana García"], min_similarity=101) == ["Ana García"]
    assert students[0].name == "Ana Garcia" and students[0].on_roster == "no"
    assert snap_to_roster([], ["Ana García"]) == ["Ana García"]


def test_votes_capitalised_spelling_wins_over_a_case_slip():
    from lecturelens.people import NameVotes

    v = NameVotes()
    for text, conf in [("farid Haddad", 0.9), ("farid Haddad", 0.9), ("Farid Haddad", 0.8),
                       ("Farid Hadad", 0.7)]:
        v.add(text, conf)
    assert v.best()[0] == "Farid Haddad"
    w = NameVotes()
    for _ in range(3):
        w.add("Lena van der Berg", 0.9)  # lower-case particles are kept when read so
    assert w.best()[0] == "Lena van der Berg"


def test_unique_names_gives_a_shared_reading_to_one_of_two_people_seen_together():
    from lecturelens.people import unique_names

    a, b, c = NameVotes(), NameVotes(), NameVotes()
    for _ in range(5):
        a.add("Ana García", 0.9)
    # b's tile was read as Ana's once, at a reshuffle; its own label more weakly twice
    for _ in range(3):
        b.add("Ana García", 0.9)
    b.add("Ben Okafor", 0.8)
    b.add("Ben Okafor", 0.8)
    c.add("Ana García", 0.9)  # a different person never seen with a: may share the name
    got = unique_names([a, b, c], [[(0, 100)], [(50, 150)], [(200, 300)]])
    assert [n for n, _ in got] == ["Ana García", "Ben Okafor", "Ana García"]
    # with no other reading, both keep the name: two people may share one
    got = unique_names([a, c], [[(0, 100)], [(50, 150)]])
    assert [n for n, _ in got] == ["Ana García", "Ana García"]
    assert unique_names([NameVotes()], [[(0, 1)]]) == [("", 0.0)]


def test_snap_to_roster_gives_look_alike_names_one_each():
    from lecturelens.people import Student, snap_to_roster

    def student(name):
        return Student("S", name, 0.9, [1], 1.0, 0.0, 0.0, 1.0, None)

    studs = [student("Lea Dubois"), student("Leo Duboi"), student("TomaszWojcik"),
             student("Unknown 1")]
    absent = snap_to_roster(studs, ["Léa Dubois", "Léo Dubois", "Tomasz Wójcik",
                                    "Lea Dubuis", "Max Mustermann"])
    assert [s.name for s in studs] == ["Léa Dubois", "Léo Dubois", "Tomasz Wójcik",
                                       "Unknown 1"]
    assert [s.on_roster for s in studs] == ["yes", "yes", "yes", "no"]
    assert absent == ["Lea Dubuis", "Max Mustermann"]


def test_name_votes_prefer_an_accented_twin_with_a_third_of_the_backing():
    votes = NameVotes()
    for conf in (0.9, 0.9, 0.9):
        votes.add("Nuria Martinez", conf)
    votes.add("Nuria Martínez", 0.9)
    assert votes.best()[0] == "Nuria Martínez"
    plain = NameVotes()
    for _ in range(4):
        plain.add("Nuria Martinez", 0.9)
    plain.add("Nuria Martínez", 0.9)  # one reading of five: not enough
    assert plain.best()[0] == "Nuria Martinez"


def test_names_in_two_scripts_leave_the_faces_to_decide():
    # one label read as Arabic on one track and as Latin debris on the next: the same face
    tracks = [_track(1, 0, 9, "يوسف العلي", _unit(0)), _track(2, 12, 20, "Lawg", _unit(0))]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[1, 2]]
    # two Latin names that differ keep alike faces apart (twins, a mirrored camera)
    tracks = [_track(1, 0, 9, "Anna Berg", _unit(0)), _track(2, 12, 20, "Lawg", _unit(0))]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[1], [2]]
    # and different faces stay apart whatever the scripts
    tracks = [_track(1, 0, 9, "يوسف العلي", _unit(0)), _track(2, 12, 20, "Lawg", _unit(1))]
    assert _ids(PeopleClusterer().cluster(tracks)) == [[1], [2]]
