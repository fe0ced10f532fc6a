import pytest

from raygan.data.kaomoji import DataError, Vocab, kaomoji_corpus, read_emoticon_file


def test_default_corpus_is_95_laughing_faces_and_a_disjoint_heldout():
    c = kaomoji_corpus()
    assert len(c.train) == 95 and len(set(c.train)) == 95
    assert len(c.heldout) > 5000
    assert not set(c.train) & set(c.heldout)


def test_draw_depends_on_seed_only():
    assert kaomoji_corpus(seed=1).train == kaomoji_corpus(seed=1).train
    assert kaomoji_corpus(seed=1).train != kaomoji_corpus(seed=2).train


def test_size_beyond_pool_is_an_error():
    with pytest.raises(DataError, match="data.size: 5000 exceeds"):
        kaomoji_corpus(size=5000)


def test_vocab_round_trip():
    faces = ["(^_^)", "(＾▽＾)", "ヽ(´▽`)ノ"]
    v = Vocab(faces)
    ids = v.encode(faces, 12)
    assert ids.shape == (3, 12)
    assert v.decode(ids) == faces


def test_user_file(tmp_path):
    f = tmp_path / "faces.txt"
    f.write_text("(^_^)\n\n(＾▽＾)\n", encoding="utf-8")
    assert read_emoticon_file(f).train == ("(^_^)", "(＾▽＾)")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no emoticons"),
        (b"\n  \n", "no emoticons"),
        (b"(^_^)\n(\xff\xfe)\n", ":2: not UTF-8"),
        (b"(^_^)\n" + b"(" * 50 + b"\n", ":2: emoticon of 50 characters; data.max_len is 40"),
    ],
)
def test_bad_user_files(tmp_path, content, message):
    f = tmp_path / "faces.txt"
    f.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_emoticon_file(f)


def test_missing_user_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_emoticon_file(tmp_path / "nope.txt")
