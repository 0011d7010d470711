"""Volumes on the host, as Fargate makes them (pages cited in fargate_local/volumes.py). The image
is read through a stand-in for the container CLI here; test_supervisor.py reads a real one.
Runs as root, as ``make run-task`` does: bind mounts are root-owned."""

import io
import os
import tarfile

import pytest

from fargate_local import AccessPoint, TaskDefinition, TaskError
from fargate_local.volumes import prepare


class Image:
    """Declares VOLUME /declared, holding a 1777 directory owned by 0:0 with one file of uid 1000."""

    def declared_volumes(self, image):
        return {"/declared"}

    def copy_out(self, image, path, helper):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            top = tarfile.TarInfo("declared")
            top.type, top.mode = tarfile.DIRTYPE, 0o1777
            seed = tarfile.TarInfo("declared/seed")
            seed.size, seed.uid, seed.gid, seed.mode = 5, 1000, 1000, 0o640
            tar.addfile(top)
            tar.addfile(seed, io.BytesIO(b"seed\n"))
        return out.getvalue()


def task(mounts, volumes, access_points=()):
    return TaskDefinition.from_resource({"family": "f", "container_definitions": [
        {"name": "app", "image": "i", "mountPoints": [{"sourceVolume": v, "containerPath": p} for v, p in mounts]}],
        "volume": volumes}, list(access_points))


def mode(path):
    st = path.stat()
    return st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)


def test_a_bind_mount_is_a_fresh_root_owned_0755_directory(tmp_path):
    paths = prepare(task([("scratch", "/scratch")], [{"name": "scratch"}]), tmp_path / "bind", {}, Image(), None, "h")
    assert mode(paths["scratch"]) == (0, 0, "0o755") and not any(paths["scratch"].iterdir())


def test_a_bind_mount_at_a_declared_volume_starts_with_the_images_content_owner_and_mode(tmp_path):
    paths = prepare(task([("v", "/declared")], [{"name": "v"}]), tmp_path / "bind", {}, Image(), None, "h")
    assert mode(paths["v"]) == (0, 0, "0o1777")
    assert (paths["v"] / "seed").read_text() == "seed\n" and mode(paths["v"] / "seed") == (1000, 1000, "0o640")


def test_an_access_point_root_is_created_with_its_creation_info_once(tmp_path):
    efs = {"name": "cache", "efs_volume_configuration": {"authorization_config": {"access_point_id": "fsap-1"}}}
    definition = task([("cache", "/cache")], [efs], [AccessPoint("/models", 1000, 1000, "0750")])
    paths = prepare(definition, tmp_path / "bind", {"cache": tmp_path / "efs"}, Image(), None, "h")
    assert paths["cache"] == tmp_path / "efs" / "models" and mode(paths["cache"]) == (1000, 1000, "0o750")
    os.chmod(paths["cache"], 0o700)  # an existing root is the file system's: left as it is
    prepare(definition, tmp_path / "bind2", {"cache": tmp_path / "efs"}, Image(), None, "h")
    assert mode(paths["cache"]) == (1000, 1000, "0o700")


def test_an_efs_volume_needs_a_host_directory(tmp_path):
    definition = task([], [{"name": "cache", "efs_volume_configuration": {"file_system_id": "fs-1"}}])
    with pytest.raises(TaskError, match="volume cache: an EFS volume; give --efs-root cache=DIR"):
        prepare(definition, tmp_path / "bind", {}, Image(), None, "h")
