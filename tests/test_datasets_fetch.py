"""Download with resume against a local HTTP server; archives verified and extracted all or nothing."""
from __future__ import annotations

import hashlib
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import write_market

from attnreid.data.datasets import prepare
from attnreid.data.download import download
from attnreid.data.fetch import fetch_dataset
from attnreid.errors import InputError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves PAYLOAD at /file; honours Range unless told not to; can cut the next response short."""

    def __init__(self):
        self.ranges: list[str | None] = []
        self.cut_next_at: int | None = None
        self.honour_range = True
        self.payload = PAYLOAD
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                owner.ranges.append(rng)
                body, start = owner.payload, 0
                if rng and owner.honour_range:
                    start = int(rng.split("=")[1].rstrip("-"))
                    if start >= len(body):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                end = len(body) if owner.cut_next_at is None else owner.cut_next_at
                owner.cut_next_at = None
                self.wfile.write(body[start:end])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_download_resumes_a_truncated_transfer(server, tmp_path):
    dest = tmp_path / "a.zip"
    server.cut_next_at = 300_000
    with pytest.raises(InputError, match=r"download interrupted at 300000 bytes.*run again to resume"):
        download(server.url, dest, SHA)
    assert not dest.exists() and (tmp_path / "a.zip.part").stat().st_size == 300_000
    assert download(server.url, dest, SHA).read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=300000-"] and not (tmp_path / "a.zip.part").exists()
    download(server.url, dest, SHA)  # present and verified: no request
    assert len(server.ranges) == 2


def test_download_starts_over_when_range_is_ignored(server, tmp_path):
    (tmp_path / "a.zip.part").write_bytes(b"stale bytes")
    server.honour_range = False
    assert download(server.url, tmp_path / "a.zip", SHA).read_bytes() == PAYLOAD


def test_download_checksum_mismatch_leaves_nothing(server, tmp_path):
    with pytest.raises(InputError, match=rf"{server.url}: checksum mismatch: sha256 {SHA}, expected 0+ "):
        download(server.url, tmp_path / "a.zip", "0" * 64)
    assert list(tmp_path.iterdir()) == []


# -- fetch_dataset: archives placed by the user or downloaded ---------------------------------
def market_zip(tmp_path: Path, name="Market-1501-v15.09.15") -> Path:
    src = write_market(tmp_path / "src" / name)
    arch = tmp_path / "zips" / f"{name}.zip"
    arch.parent.mkdir()
    with zipfile.ZipFile(arch, "w") as zf:
        for f in sorted(src.rglob("*")):
            zf.write(f, f.relative_to(src.parent))
    return arch


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_extracts_a_placed_archive_then_prepare_reads_it(tmp_path):
    arch = market_zip(tmp_path)
    root = tmp_path / "raw" / "Market-1501-v15.09.15"
    root.parent.mkdir()
    arch.rename(f"{root}.zip")
    cfg = {"kind": "market1501", "root": str(root), "sha256": sha_of(Path(f"{root}.zip")), "check_counts": False}
    assert fetch_dataset("m", cfg) == root and (root / "bounding_box_train").is_dir()  # top folder stripped
    assert prepare("m", cfg, root, tmp_path / "i" / "index.csv")["counts"]["train"]["images"] == 16


def test_fetch_refuses_bad_archives_and_leaves_no_root(tmp_path):
    arch = market_zip(tmp_path)
    root = tmp_path / "raw" / "market"
    cfg = {"kind": "market1501", "root": str(root), "archive": str(arch)}
    with pytest.raises(InputError, match=r"datasets.m.sha256: no checksum pinned for .*its sha256 is [0-9a-f]{64}"):
        fetch_dataset("m", cfg)
    with pytest.raises(InputError, match=rf"{arch}: checksum mismatch"):
        fetch_dataset("m", {**cfg, "sha256": "f" * 64})
    arch.write_bytes(arch.read_bytes()[: arch.stat().st_size // 2])
    with pytest.raises(InputError, match=rf"{arch}: truncated or corrupt archive"):
        fetch_dataset("m", {**cfg, "sha256": sha_of(arch)})
    assert not root.exists() and list(root.parent.iterdir()) == []


def test_fetch_truncated_tar_gz(tmp_path):
    src = write_market(tmp_path / "MSMT17_V1", n_ids=1)
    arch = tmp_path / "MSMT17_V1.tar.gz"
    with tarfile.open(arch, "w:gz") as tf:
        tf.add(src, arcname="MSMT17_V1")
    arch.write_bytes(arch.read_bytes()[:-2000])
    cfg = {"kind": "msmt17", "root": str(tmp_path / "raw" / "MSMT17_V1"), "archive": str(arch), "sha256": sha_of(arch)}
    with pytest.raises(InputError, match=r"MSMT17_V1.tar.gz: truncated or corrupt archive"):
        fetch_dataset("msmt", cfg)
    assert not (tmp_path / "raw" / "MSMT17_V1").exists()


def test_fetch_without_archive_or_url_says_what_to_place(tmp_path):
    cfg = {"kind": "dukemtmc", "root": str(tmp_path / "raw" / "DukeMTMC-reID")}
    with pytest.raises(InputError) as err:
        fetch_dataset("duke", cfg)
    msg = str(err.value)
    assert f"{tmp_path}/raw/DukeMTMC-reID.zip: not found; place DukeMTMC-reID.zip in {tmp_path}/raw/" in msg
    assert "expected sha256: none pinned" in msg and "withdrawn by its authors in 2019" in msg
    with pytest.raises(InputError, match="expected sha256: " + "a" * 64):
        fetch_dataset("duke", {**cfg, "sha256": "a" * 64})
    with pytest.raises(InputError, match=r"datasets.s.kind: synthreid is made by the synthesize stage"):
        fetch_dataset("s", {"kind": "synthreid"})


def test_fetch_downloads_verifies_and_extracts(server, tmp_path):
    server.payload = market_zip(tmp_path).read_bytes()
    root = tmp_path / "raw" / "Market-1501-v15.09.15"
    cfg = {"kind": "market1501", "root": str(root), "url": server.url}
    with pytest.raises(InputError, match=r"datasets.m.sha256: no checksum pinned for http"):
        fetch_dataset("m", cfg)
    fetch_dataset("m", {**cfg, "sha256": hashlib.sha256(server.payload).hexdigest()})
    assert (root / "query").is_dir() and Path(f"{root}.zip").is_file()
