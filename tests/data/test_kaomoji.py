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


# --- text enters in one normal form (raygan.data.text) ---------------------------------


def test_a_byte_order_mark_is_not_part_of_the_first_face(tmp_path):
    from raygan.metrics.emoticon import exact_copy, near_copy

    path = tmp_path / "faces.txt"
    path.write_bytes("\ufeff(^_^)\n(T_T)\n".encode())
    corpus = read_emoticon_file(path)
    assert corpus.train == ("(^_^)", "(T_T)")
    assert exact_copy(["(^_^)"], corpus.train) == 1.0
    assert near_copy(["(^_^)"], corpus.train) == 1.0


def test_composed_and_decomposed_faces_are_one_face(tmp_path):
    import unicodedata

    from raygan.metrics.emoticon import emoticon_metrics, is_emoticon

    composed = "(ó_ó)"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    path = tmp_path / "faces.txt"
    path.write_text(decomposed + "\n(^_^)\n", encoding="utf-8")
    corpus = read_emoticon_file(path)
    assert corpus.train[0] == composed  # NFC where the file enters
    # one verdict and one copy count for either form, whichever form the training set holds
    for training in ([composed, "(^_^)"], [decomposed, "(^_^)"]):
        assert is_emoticon(composed, training) == is_emoticon(decomposed, training)
        m = emoticon_metrics([composed, decomposed], training)
        assert m["exact_copy"] == 1.0 and m["near_copy"] == 1.0
        assert m["uniqueness"] == 0.5  # the same string twice


def test_lines_split_as_a_text_files_lines(tmp_path):
    path = tmp_path / "faces.txt"
    # \r\n and \r end lines; a form feed or U+2028 inside a face does not
    path.write_bytes("(^_^)\r\n(T_T)\r(o\u2028o)\n(x\x0cx)\n".encode())
    assert read_emoticon_file(path).train == ("(^_^)", "(T_T)", "(o\u2028o)", "(x\x0cx)")


def test_the_embedded_corpus_is_in_nfc():
    import unicodedata

    corpus = kaomoji_corpus()
    for face in corpus.train + corpus.heldout[:2000]:
        assert unicodedata.normalize("NFC", face) == face


def test_trailing_blanks_and_repeated_byte_order_marks_are_no_part_of_a_face(tmp_path):
    path = tmp_path / "faces.txt"
    path.write_bytes("\ufeff\ufeff(^_^)  \n(T_T)\t\x0c\n".encode())
    assert read_emoticon_file(path).train == ("(^_^)", "(T_T)")


def test_a_utf16_file_is_named_as_such(tmp_path):
    path = tmp_path / "faces.txt"
    path.write_text("(^_^)\n", encoding="utf-16")
    with pytest.raises(DataError, match="a UTF-16 file"):
        read_emoticon_file(path)


def test_no_held_out_face_draws_like_a_training_face():
    from raygan.data.text import drawn_text

    for seed in range(4):  # seeds 0-3 draw faces that end in U+FEFF or hold a U+200B
        c = kaomoji_corpus(seed=seed)
        drawn = {drawn_text(t) for t in c.train}
        assert any(drawn_text(t) != t for t in c.train)
        assert not drawn & {drawn_text(t) for t in c.heldout}
