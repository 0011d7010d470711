"""podman without a Docker engine: overlay storage, chroot builds, runc with cgroupfs, a local registry,
and a stand-in for python:3.11-slim made with debootstrap (no image registry is reachable)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.e2e.harness import free_port, wait_for_port

BASE_IMAGE = "docker.io/library/python:3.11-slim"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def podman_env(folder: Path) -> dict:
    """Environment that points podman and buildah at private storage and a runnable runtime."""
    folder.mkdir(parents=True, exist_ok=True)
    storage, conf = folder / "storage.conf", folder / "containers.conf"
    # Native overlay (root on ext4): vfs copies the whole root file system for every layer, and the
    # worker's 2 GB image then needs tens of GB of disk to build.
    storage.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{folder}/storage"\nrunroot = "{folder}/run"\n')
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\nnetns = "host"\n'
                    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(storage), "CONTAINERS_CONF": str(conf),
            "BUILDAH_ISOLATION": "chroot"}


def podman(env: dict, *args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-4000:]}")
    return result


def make_base_image(env: dict, folder: Path) -> None:
    """Debian bookworm (whose python3 is 3.11) with `python` on PATH, imported as python:3.11-slim."""
    if podman(env, "image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return
    rootfs = folder / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                    "bookworm", str(rootfs), "http://deb.debian.org/debian"], check=True, capture_output=True,
                   timeout=1800)
    (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
    subprocess.run(f"tar -C {rootfs} -c . | podman import --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'"
                   f" --change 'CMD [\"python\"]' - {BASE_IMAGE}", shell=True, env=env, check=True,
                   capture_output=True, timeout=900)


def build_args(folder: Path) -> str:
    """podman build flags: never pull, and give pip the host's CA bundle (HTTPS is intercepted here)."""
    pip_conf = folder / "pip.conf"
    pip_conf.write_text(f"[global]\ncert = {HOST_CA_BUNDLE}\n")
    return (f"--pull=never --isolation=chroot -v {HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro "
            f"-v {pip_conf}:/etc/pip.conf:ro")


class Registry:
    """Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        config = folder / "registry.yml"
        config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'registry'}\n"
                          f"http:\n  addr: 127.0.0.1:{self.port}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        self.address = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


BUSYBOX_IMAGE = "localhost/busybox-base:latest"


def make_busybox_image(env: dict, folder: Path) -> str:
    """A few-MB base image from Debian's busybox-static: a shell and coreutils, nothing else."""
    if podman(env, "image", "exists", BUSYBOX_IMAGE, check=False).returncode == 0:
        return BUSYBOX_IMAGE
    rootfs = folder / "busybox-rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "tmp").mkdir(mode=0o1777)
    os.chmod(rootfs / "tmp", 0o1777)
    shutil.copy2("/bin/busybox", rootfs / "bin/busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (rootfs / "bin" / applet).symlink_to("busybox")
    subprocess.run(f"tar -C {rootfs} -c . | podman import --change 'ENV PATH=/bin' - {BUSYBOX_IMAGE}", shell=True,
                   env=env, check=True, capture_output=True, timeout=300)
    return BUSYBOX_IMAGE
