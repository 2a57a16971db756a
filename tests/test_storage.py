"""Storage through fsspec on every backend the product supports, including a real GCS emulator."""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from automl_video import storage

BACKENDS = ("path", "file", "memory", "gs", "s3")


@pytest.fixture(params=BACKENDS)
def root(request, tmp_path):
    """A fresh, empty folder URL on each backend."""
    if request.param == "path":
        return str(tmp_path / "root")
    if request.param == "file":
        return f"file://{tmp_path}/root"
    if request.param == "memory":
        return f"memory://storage-tests/{uuid.uuid4().hex}"
    bucket = request.getfixturevalue("gcs_bucket" if request.param == "gs" else "s3_bucket")
    return storage.join(bucket, "root")


def test_read_write_list_remove_round_trip(root):
    storage.write_bytes(storage.join(root, "bin/data.bin"), b"\x00\x01\xff")
    storage.write_text(storage.join(root, "text/hello.txt"), "héllo\n")
    storage.write_json(storage.join(root, "text/doc.json"), {"a": [1, 2.5, None]})
    storage.write_jsonl(storage.join(root, "text/rows.jsonl"), [{"row": 1}, {"row": 2}])

    assert storage.read_bytes(storage.join(root, "bin/data.bin")) == b"\x00\x01\xff"
    assert storage.read_text(storage.join(root, "text/hello.txt")) == "héllo\n"
    assert storage.read_json(storage.join(root, "text/doc.json")) == {"a": [1, 2.5, None]}
    assert storage.read_jsonl(storage.join(root, "text/rows.jsonl")) == [{"row": 1}, {"row": 2}]
    assert storage.size(storage.join(root, "bin/data.bin")) == 3
    with storage.open_read(storage.join(root, "text/hello.txt"), "rt") as f:
        assert f.read() == "héllo\n"

    listed = storage.listdir(storage.join(root, "text"))
    assert [u.rsplit("/", 1)[-1] for u in listed] == ["doc.json", "hello.txt", "rows.jsonl"]
    assert storage.read_json(listed[0]) == {"a": [1, 2.5, None]}  # listed entries are usable URLs
    globbed = storage.glob(storage.join(root, "text/*.json*"))
    assert [u.rsplit("/", 1)[-1] for u in globbed] == ["doc.json", "rows.jsonl"]
    assert storage.listdir(storage.join(root, "missing")) == []

    storage.write_text(storage.join(root, "text/hello.txt"), "replaced")
    assert storage.read_text(storage.join(root, "text/hello.txt")) == "replaced"
    storage.remove(storage.join(root, "text"), recursive=True)
    assert not storage.exists(storage.join(root, "text/hello.txt"))
    assert storage.exists(storage.join(root, "bin/data.bin"))
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(storage.join(root, "text/hello.txt"))


def test_local_copy_and_folder_transfers(root, tmp_path):
    storage.write_bytes(storage.join(root, "model/weights.bin"), b"w" * 1000)
    storage.write_text(storage.join(root, "model/sub/deep/meta.txt"), "meta")

    with storage.local_copy(storage.join(root, "model/weights.bin")) as path:
        assert os.path.isfile(path) and open(path, "rb").read() == b"w" * 1000
    with storage.local_dir(storage.join(root, "model")) as folder:
        assert open(os.path.join(folder, "sub/deep/meta.txt")).read() == "meta"

    local = tmp_path / "built"
    (local / "nested").mkdir(parents=True)
    (local / "nested/a.txt").write_text("a")
    (local / "b.txt").write_text("b")
    storage.upload_dir(str(local), storage.join(root, "copy"))
    storage.download_dir(storage.join(root, "copy"), str(tmp_path / "back"))
    assert (tmp_path / "back/nested/a.txt").read_text() == "a"
    assert (tmp_path / "back/b.txt").read_text() == "b"


def test_local_copy_of_a_local_file_is_the_file_itself(tmp_path):
    target = tmp_path / "video.mp4"
    target.write_bytes(b"v")
    with storage.local_copy(f"file://{target}") as path:
        assert path == str(target)
    assert storage.is_local(str(target)) and storage.local_path(f"file://{target}") == str(target)


def test_object_stores_are_not_local(object_store):
    assert not storage.is_local(object_store)
    with pytest.raises(ValueError, match="not a local path"):
        storage.local_path(storage.join(object_store, "x"))


def test_a_missing_filesystem_driver_is_one_line_naming_the_extra(tmp_path):
    """Without s3fs, an s3:// URL says what to install, as a user error (one line from the CLI)."""
    blocked = "import sys; sys.modules['s3fs'] = None; "  # as if the s3 extra were not installed
    library = subprocess.run(
        [sys.executable, "-c", blocked + "from automl_video import storage; storage.exists('s3://bucket/x')"],
        capture_output=True,
        text=True,
    )
    assert library.returncode == 1
    assert (
        "MissingDriverError: s3://bucket/x: s3:// URLs need a filesystem driver that is not installed: "
        in library.stderr
    )
    assert "pip install 'automl-video[s3]'" in library.stderr
    cli = subprocess.run(
        [
            sys.executable,
            "-c",
            blocked + "from automl_video.cli import main; sys.exit(main(['dataset', 'describe', "
            "'--dataset', 's3://bucket/data']))",
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1
    assert cli.stderr.strip().splitlines() == [
        "automl-video: error: s3://bucket/data/dataset.json: s3:// URLs need a filesystem driver that is not "
        "installed: pip install 'automl-video[s3]'"
    ]


def test_join_never_doubles_slashes():
    assert storage.join("gs://b/", "/a/", "b.csv") == "gs://b/a/b.csv"
    assert storage.join("/tmp/x", "y") == "/tmp/x/y"


def test_publish_dir_replaces_the_whole_folder_and_marks_it_complete(root, tmp_path):
    first = tmp_path / "v1"
    first.mkdir()
    (first / "stale.txt").write_text("old")
    (first / "model.json").write_text("1")
    storage.publish_dir(str(first), storage.join(root, "model"))
    assert storage.is_published(storage.join(root, "model"))

    second = tmp_path / "v2"
    second.mkdir()
    (second / "model.json").write_text("2")
    storage.publish_dir(str(second), storage.join(root, "model"))
    assert storage.read_text(storage.join(root, "model/model.json")) == "2"
    assert storage.is_published(storage.join(root, "model"))
    assert not storage.is_published(storage.join(root, "never-published"))
    if storage.is_local(root):
        # A local folder is swapped in whole: nothing of the old version survives.
        assert not storage.exists(storage.join(root, "model/stale.txt"))


def test_failed_local_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "dataset.json"
    storage.write_text(str(target), "old")

    class Unwritable:  # not a bytes-like object: the write fails after the temporary file exists
        pass

    with pytest.raises(TypeError):
        storage.write_bytes(str(target), Unwritable())
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["dataset.json"]


# A writer process rewriting one file over and over with a uniform byte per version; killed at an
# arbitrary moment, the file must hold one whole version, never a torn or truncated one.
_REWRITER = """
import sys
from automl_video import storage
url, size = sys.argv[1], int(sys.argv[2])
storage.write_bytes(url, bytes([0]) * size)
print("ready", flush=True)
for version in range(1, 10**6):
    storage.write_bytes(url, bytes([version % 256]) * size)
"""


@pytest.mark.parametrize("backend", ["path", "gs"])
def test_write_killed_midway_leaves_a_whole_version(backend, tmp_path, request):
    size = 4 * 1024 * 1024  # large enough that the kill usually lands inside a write
    if backend == "path":
        url = str(tmp_path / "dataset.json")
    else:
        url = storage.join(request.getfixturevalue("gcs_bucket"), "dataset.json")
    writer = subprocess.Popen([sys.executable, "-c", _REWRITER, url, str(size)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(1.0)
    finally:
        writer.kill()
        writer.wait()
    data = storage.read_bytes(url)
    assert len(data) == size
    assert data == bytes([data[0]]) * size


def test_json_is_written_as_one_document(root):
    storage.write_json(storage.join(root, "d.json"), {"k": "v"}, indent=None)
    assert storage.read_text(storage.join(root, "d.json")) == json.dumps({"k": "v"}) + "\n"


def test_atomic_local_writes_get_umask_permissions_not_private_ones(tmp_path):
    """Outputs are read by other users (a KFP container, a web server): no 0600 left from mkstemp."""
    target = tmp_path / "report.json"
    storage.write_text(str(target), "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
