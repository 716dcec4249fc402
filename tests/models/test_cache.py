"""The on-disk embedding cache: hits/misses, identity and prompt keys, corruption, concurrency."""

from __future__ import annotations

import sqlite3
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


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_entry_is_recomputed(hash_encoder: HashEncoder, cache_dir: Path, damage: str, caplog) -> None:
    enc = CachedEncoder(hash_encoder, cache_dir)
    good = enc.encode(["keep", "break"])
    enc.store.close()
    key = enc.key("break", "")
    with sqlite3.connect(enc.store.path) as conn:
        (blob,) = conn.execute("SELECT vec FROM vectors WHERE key = ?", (key,)).fetchone()
        bad = blob[:-4] if damage == "truncate" else bytes([blob[0] ^ 0xFF]) + blob[1:]
        conn.execute("UPDATE vectors SET vec = ? WHERE key = ?", (bad, key))
    fresh = HashEncoder()
    enc2 = CachedEncoder(fresh, cache_dir)
    out = enc2.encode(["keep", "break"])
    assert fresh.embedded == ["break"]
    assert enc2.stats.corrupt == 1
    np.testing.assert_array_equal(out, good)
    assert "corrupt cache entr" in caplog.text
    enc3 = CachedEncoder(HashEncoder(), cache_dir)  # the repaired row is trusted again
    enc3.encode(["break"])
    assert enc3.stats.hits == 1 and enc3.stats.corrupt == 0


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


def test_damaged_database_file_is_set_aside(hash_encoder: HashEncoder, cache_dir: Path, caplog) -> None:
    enc = CachedEncoder(hash_encoder, cache_dir)
    good = enc.encode(["a", "b"])
    enc.store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(enc.store.path) + suffix).unlink(missing_ok=True)
    enc.store.path.write_bytes(b"this is not sqlite" * 100)
    again = CachedEncoder(HashEncoder(), cache_dir)
    np.testing.assert_array_equal(again.encode(["a", "b"]), good)
    assert again.stats.misses == 2 and "damaged cache database" in caplog.text
    assert CachedEncoder(HashEncoder(), cache_dir).encode(["a"]).shape == (1, 8)
