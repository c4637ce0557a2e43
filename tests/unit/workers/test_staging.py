import os

from workers.staging import output_files
from workers.workdir import Workdir, remove_stale_workdirs


def test_output_files_keep_relative_paths_and_skip_symlinks(tmp_path):
    out = tmp_path / "output"
    (out / "sub").mkdir(parents=True)
    (out / "a.txt").write_text("a")
    (out / "sub" / "b.txt").write_text("b")
    (out / "passwd").symlink_to("/etc/passwd")
    (out / "linked-dir").symlink_to("/etc")
    assert [name for name, _ in output_files(out)] == ["a.txt", "sub/b.txt"]


def test_workdir_is_emptied_between_attempts(tmp_path):
    workdir = Workdir.for_thread(tmp_path)
    (workdir.input_dir / "input").write_text("in")
    (workdir.output_dir / "deep").mkdir()
    (workdir.output_dir / "deep" / "x").write_text("x")
    workdir.stdout.write_text("o")
    again = Workdir.for_thread(tmp_path)
    assert again.root == workdir.root
    assert list(again.output_dir.iterdir()) == [] and list(again.input_dir.iterdir()) == []
    assert not again.stdout.exists()


def test_scratch_directories_of_dead_workers_are_removed(tmp_path):
    mine = Workdir.for_thread(tmp_path)
    dead = tmp_path / "999999999-1"
    dead.mkdir()
    remove_stale_workdirs(tmp_path)
    assert mine.root.exists() and not dead.exists()
    assert str(os.getpid()) in mine.root.name
