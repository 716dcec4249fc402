"""The on-disk embedding cache: hits/misses, identity and config keys, corrupt and unfinished shards,
kill -9, concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from domainteb.eval.cache import CachedEncoder

from model_fakes import HashEncoder


def test_each_distinct_text_is_embedded_once(hash_encoder: HashEncoder, cache_dir: Path) -> None:
    enc = CachedEncoder(hash_encoder, cache_dir)
    texts = ["alpha", "beta", "alpha", "gamma"]
    first = enc.encode(texts, prompt_type="document")
    assert hash_encoder.embedded == ["alpha", "beta", "gamma"]
    assert (enc.stats.hits, enc.stats.misses) == (1, 3)
    np.testing.assert_array_equal(first, hash_encoder.encode(texts, prompt_type="document"))
    hash_encoder.embedded.clear()

    second = enc.encode(["gamma", "alpha", "delta"], prompt_type="document")
    assert hash_encoder.embedded == ["delta"]
    assert (enc.stats.hits, enc.stats.misses) == (3, 4)
    assert second.dtype == np.float32 and second.shape == (3, 8)
    np.testing.assert_array_equal(second[0], first[3])


def test_cache_persists_across_runs(hash_encoder: HashEncoder, cache_dir: Path) -> None:
    CachedEncoder(hash_encoder, cache_dir).encode(["one", "two"])
    again = CachedEncoder(HashEncoder(), cache_dir)  # a new process would see the same files
    again.encode(["two", "one"])
    assert again.encoder.embedded == [] and again.stats.hits == 2 and again.stats.hit_rate == 1.0


def test_identity_and_prompt_change_invalidate(cache_dir: Path) -> None:
    base = CachedEncoder(HashEncoder(revision="r1"), cache_dir)
    base.encode(["text"], prompt_type="query")
    new_revision = CachedEncoder(HashEncoder(revision="r2"), cache_dir)
    new_revision.encode(["text"], prompt_type="query")
    assert new_revision.stats.misses == 1
    new_prompt = CachedEncoder(HashEncoder(revision="r1", prompts={"query": "search: "}), cache_dir)
    out = new_prompt.encode(["text"], prompt_type="query")
    assert new_prompt.stats.misses == 1
    assert not np.allclose(out, base.encode(["text"], prompt_type="query"))
    # no prompt for documents: the query entry is not reused for the same text
    doc = CachedEncoder(HashEncoder(revision="r1"), cache_dir)
    doc.encode(["text"], prompt_type="document")
    assert doc.stats.misses == 1


def _shards(enc: CachedEncoder) -> list[Path]:
    return sorted(enc.store.path.glob("shard-*"))


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta"])
def test_corrupt_shard_is_set_aside_and_recomputed(hash_encoder: HashEncoder, cache_dir: Path, damage: str, caplog) -> None:
    enc = CachedEncoder(hash_encoder, cache_dir)
    good = enc.encode(["keep"])
    enc.encode(["break"])
    shard = _shards(enc)[1]
    vectors = shard / "vectors.npy"
    if damage == "truncate":
        vectors.write_bytes(vectors.read_bytes()[:-4])
    elif damage == "flip":
        data = bytearray(vectors.read_bytes())
        data[-1] ^= 0xFF
        vectors.write_bytes(bytes(data))
    else:
        (shard / "meta.json").write_text("{not json", encoding="utf-8")
    fresh = HashEncoder()
    enc2 = CachedEncoder(fresh, cache_dir)
    out = enc2.encode(["keep", "break"])
    assert fresh.embedded == ["break"]
    np.testing.assert_array_equal(out[0], good[0])
    np.testing.assert_array_equal(out[1], HashEncoder().encode(["break"])[0])
    assert "corrupt cache shard" in caplog.text
    assert not shard.exists() and any(enc2.store.path.glob("corrupt-*"))
    enc3 = CachedEncoder(HashEncoder(), cache_dir)  # the recomputed shard is trusted again
    enc3.encode(["break"])
    assert enc3.stats.hits == 1 and enc3.stats.corrupt == 0


def test_unfinished_shard_is_ignored(hash_encoder: HashEncoder, cache_dir: Path) -> None:
    """What a writer killed before its rename leaves behind is never read."""
    enc = CachedEncoder(hash_encoder, cache_dir)
    enc.encode(["a"])
    leftover = enc.store.path / ".tmp-00000000000000000001-1-deadbeef"
    leftover.mkdir()
    (leftover / "keys.npy").write_bytes(b"\x93NUMPY partial")
    again = CachedEncoder(HashEncoder(), cache_dir)
    again.encode(["a", "b"])
    assert again.encoder.embedded == ["b"] and again.stats.corrupt == 0


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from model_fakes import HashEncoder
    from domainteb.eval.cache import CachedEncoder
    import domainteb.eval.cache as cache
    cache._COMPUTE_CHUNK = 500  # many small shards, so the kill lands between and inside writes
    enc = CachedEncoder(HashEncoder(), sys.argv[1])
    print("ready", flush=True)
    block = 0
    while True:
        enc.encode([f"text {i}" for i in range(block * 2000, block * 2000 + 2000)])
        block += 1
    """
)


def test_shards_survive_kill_9(cache_dir: Path) -> None:
    """A writer killed with SIGKILL mid-run leaves only complete shards, which are all reused."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(cache_dir), str(Path(__file__).parent)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(cache_dir.glob("*/shard-*"))) < 12:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    shards = list(cache_dir.glob("*/shard-*"))
    assert len(shards) >= 12
    texts = [f"text {i}" for i in range(12 * 500 + 2000)]
    check = CachedEncoder(HashEncoder(), cache_dir)
    out = check.encode(texts)
    np.testing.assert_array_equal(out, HashEncoder().encode(texts))
    assert check.stats.corrupt == 0
    assert check.stats.hits >= 12 * 500  # every published shard was read back whole
    assert check.stats.hits % 500 == 0  # shards are all-or-nothing


def test_st_config_is_part_of_the_key(tiny_model, cache_dir: Path) -> None:
    """max_seq_length, pooling, normalisation and tokenizer changes all start a new key space."""
    from sentence_transformers.models import Normalize

    from domainteb.eval.cache import identity_hash

    st = tiny_model.model
    base = identity_hash(tiny_model)
    old_len = st.max_seq_length
    try:
        st.max_seq_length = 16
        assert identity_hash(tiny_model) != base
    finally:
        st.max_seq_length = old_len
    assert identity_hash(tiny_model) == base
    pooling = st[1]
    old_mode = pooling.pooling_mode
    try:
        pooling.pooling_mode = "cls"
        assert identity_hash(tiny_model) != base
    finally:
        pooling.pooling_mode = old_mode
    st.append(Normalize())
    try:
        assert identity_hash(tiny_model) != base
    finally:
        del st[len(st) - 1]
    assert identity_hash(tiny_model) == base
    from domainteb.eval.models.sentence_transformer import tokenizer_digest

    tok = st.tokenizer
    digest = tokenizer_digest(tok)
    old_side = tok.truncation_side
    try:
        tok.truncation_side = "left" if old_side == "right" else "right"
        assert tokenizer_digest(tok) != digest
    finally:
        tok.truncation_side = old_side


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from model_fakes import HashEncoder
    from domainteb.eval.cache import CachedEncoder
    start = int(sys.argv[2])
    enc = CachedEncoder(HashEncoder(), sys.argv[1])
    barrier = Path(sys.argv[1]) / "ready"
    barrier.mkdir(exist_ok=True)
    (barrier / str(start)).touch()
    while len(list(barrier.iterdir())) < 2:  # start writing together
        time.sleep(0.01)
    for block in range(20):
        texts = [f"text {i}" for i in range(start + block * 100, start + block * 100 + 150)]
        enc.encode(texts)
    print(enc.stats.misses)
    """
)


@pytest.mark.slow
def test_two_processes_write_the_same_cache(cache_dir: Path) -> None:
    here = str(Path(__file__).parent)
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(cache_dir), str(start), here], stdout=subprocess.PIPE, text=True)
        for start in (0, 1000)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    misses = [int(out) for out, _ in outs]
    assert all(m >= 1000 for m in misses)  # both really wrote (the first 1000 texts of each are unique to it)
    assert sum(misses) >= 3050  # overlapping texts may be embedded by both; that is harmless
    expected = [f"text {i}" for i in range(0, 3050)]
    check = CachedEncoder(HashEncoder(), cache_dir)
    out = check.encode(expected)
    assert check.stats.corrupt == 0 and check.stats.misses == 0 and check.stats.hits == len(expected)
    np.testing.assert_array_equal(out, HashEncoder().encode(expected))
    assert len(check.store) == len(expected)


def test_real_model_cached_vectors_match(tiny_model, cache_dir: Path) -> None:
    enc = CachedEncoder(tiny_model, cache_dir)
    texts = ["Goodwill impairment was recorded.", "Aspirin lowers fever.", "Goodwill impairment was recorded."]
    first = enc.encode(texts, prompt_type="query")
    again = CachedEncoder(tiny_model, cache_dir).encode(texts, prompt_type="query")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, tiny_model.encode(texts, prompt_type="query"), atol=1e-5)
    assert enc.stats.misses == 2
    assert enc.model_info()["name"] == "minilm-l3" and enc.display_name == "paraphrase-MiniLM-L3-v2"
