"""Tests of sweep.data.fetch against a local HTTP server (never the real network)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import urllib.error
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import idx_bytes

from sweep.data import FETCHABLE, fetch, load_dataset
from sweep.data import download as fetch_module
from sweep.errors import DataError

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(autouse=True)
def local_network_only(monkeypatch):
    """Only 127.0.0.1 may be contacted, and no proxy may be configured."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    real_connect = socket.socket.connect

    def guarded(self, address):
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise AssertionError(f"test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(root=root, url=f"http://127.0.0.1:{httpd.server_port}/files",
                              requests=requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idx_gz(arr) -> bytes:
    return gzip.compress(idx_bytes(arr))


def serve_mnist(root: Path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    blobs = {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (50, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_gz(np.arange(50) % 10),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (10, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.arange(10) % 10),
    }
    (root / "files").mkdir(exist_ok=True)
    for name, blob in blobs.items():
        (root / "files" / name).write_bytes(blob)
    return {name: sha(blob) for name, blob in blobs.items()}


def test_fetch_mnist_good_digest_then_load(tmp_path, server):
    digests = serve_mnist(server.root)
    dest = tmp_path / "data" / "mnist"
    paths = fetch("mnist", dest, base_url=server.url, checksums=digests)
    assert [p.name for p in paths] == list(MNIST_FILES)
    assert all(p.is_file() for p in paths)
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]  # temp files gone
    ds = load_dataset("mnist", data_dir=dest)
    assert ds.X_test.shape == (10, 784)
    # Second fetch: files present with the right digest, nothing downloaded again.
    n = len(server.requests)
    fetch("mnist", dest, base_url=server.url, checksums=digests)
    assert len(server.requests) == n


def test_fetch_bad_digest_removes_file(tmp_path, server):
    digests = serve_mnist(server.root)
    digests["t10k-images-idx3-ubyte.gz"] = "0" * 64
    dest = tmp_path / "d"
    with pytest.raises(DataError) as e:
        fetch("mnist", dest, base_url=server.url, checksums=digests)
    msg = str(e.value)
    assert "SHA-256 mismatch" in msg and "t10k-images-idx3-ubyte.gz" in msg and "deleted" in msg
    assert not (dest / "t10k-images-idx3-ubyte.gz").exists()
    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES[:2])  # earlier ones kept


def test_fetch_builtin_table_rejects_other_files(tmp_path, server):
    """Without checksums= the published digests apply, so the tiny test files are refused."""
    serve_mnist(server.root)
    with pytest.raises(DataError, match="SHA-256 mismatch.*expected 440fcabf"):
        fetch("mnist", tmp_path / "d", base_url=server.url)
    assert list((tmp_path / "d").iterdir()) == []


def test_fetch_server_down(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError) as e:
        fetch("fashion-mnist", tmp_path / "d", base_url=f"http://127.0.0.1:{port}/", timeout=5)
    msg = str(e.value)
    assert f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz" in msg
    assert "network" in msg and "by hand" in msg and str(tmp_path / "d") in msg
    assert list((tmp_path / "d").iterdir()) == []


def test_fetch_http_404(tmp_path, server):
    with pytest.raises(DataError, match="HTTP 404"):
        fetch("mnist", tmp_path / "d", base_url=server.url, checksums={})


def test_fetch_default_urls_and_dest(tmp_path, monkeypatch):
    """The official URLs are used by default (checked without any connection)."""
    seen = []

    def fake_urlopen(url, timeout):
        seen.append(url)
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.chdir(tmp_path)
    for name in FETCHABLE:
        with pytest.raises(DataError, match="offline"):
            fetch(name)
        assert (tmp_path / "data" / name).is_dir()
    assert seen == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ]
    with pytest.raises(DataError, match=r"cannot fetch 'mnst' \(did you mean 'mnist'\?\)"):
        fetch("mnst")


def test_published_digest_table_shape():
    for name in FETCHABLE:
        assert set(fetch_module.SHA256[name]) == set(fetch_module.SOURCES[name].files)
        for digest in fetch_module.SHA256[name].values():
            assert len(digest) == 64 and int(digest, 16) >= 0


def _tar_gz(members: dict[str, bytes], evil: tarfile.TarInfo | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if evil is not None:
            tar.addfile(evil, io.BytesIO(b"x" * evil.size) if evil.size else None)
    return buf.getvalue()


def _cifar_members(n=10):
    rng = np.random.default_rng(0)

    def batch():
        rec = np.column_stack([np.arange(n) % 10, rng.integers(0, 256, (n, 3072))])
        return rec.astype(np.uint8).tobytes()

    files = {f"cifar-10-batches-bin/data_batch_{i}.bin": batch() for i in range(1, 6)}
    files["cifar-10-batches-bin/test_batch.bin"] = batch()
    files["cifar-10-batches-bin/batches.meta.txt"] = "\n".join(
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
         "truck"]).encode()
    return files


def test_fetch_cifar10_extracts_and_loads(tmp_path, server):
    archive = _tar_gz(_cifar_members())
    (server.root / "cifar-10-binary.tar.gz").write_bytes(archive)
    dest = tmp_path / "cifar"
    paths = fetch("cifar10", dest, base_url=server.url.rsplit("/", 1)[0],
                  checksums={"cifar-10-binary.tar.gz": sha(archive)})
    assert paths[0] == dest / "cifar-10-binary.tar.gz"
    assert dest / "cifar-10-batches-bin" / "test_batch.bin" in paths
    ds = load_dataset("cifar10", data_dir=dest)
    assert ds.X_train.shape == (45, 3072) and ds.X_test.shape == (10, 3072)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_fetch_cifar10_refuses_unsafe_archive(tmp_path, server, kind):
    if kind == "symlink":
        evil = tarfile.TarInfo("cifar-10-batches-bin/link")
        evil.type, evil.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        evil = tarfile.TarInfo("../escaped.txt" if kind == "dotdot" else "/tmp/escaped.txt")
        evil.size = 1
    archive = _tar_gz(_cifar_members(2), evil)
    (server.root / "cifar-10-binary.tar.gz").write_bytes(archive)
    dest = tmp_path / "cifar"
    with pytest.raises(DataError, match="refusing"):
        fetch("cifar10", dest, base_url=server.url.rsplit("/", 1)[0],
              checksums={"cifar-10-binary.tar.gz": sha(archive)})
    assert not (tmp_path / "escaped.txt").exists()
    assert not (dest / "cifar-10-batches-bin").exists()  # nothing extracted at all
