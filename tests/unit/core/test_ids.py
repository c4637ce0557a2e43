from core.ids import is_job_id, new_id


def test_ids_sort_by_creation_time():
    ids = [new_id(now=1_700_000_000 + i) for i in range(100)]
    assert sorted(ids) == ids
    assert all(is_job_id(i) for i in ids)


def test_ids_are_unique_within_a_millisecond():
    assert len({new_id(now=1_700_000_000) for _ in range(10_000)}) == 10_000


def test_hostile_strings_are_not_job_ids():
    assert not any(is_job_id(s) for s in ("../../etc/passwd", "", "A" * 26, "0" * 25 + "/"))
