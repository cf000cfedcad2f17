"""BM25 tokenisation and ranking."""

from __future__ import annotations

from knowledge.lexical import LexicalIndex, tokenize


def test_tokenize_drops_stop_words_and_pairs_cjk_characters() -> None:
    assert tokenize("What is Box Breathing?") == ["box", "breathing"]
    assert tokenize("冥想练习") == ["冥想", "想练", "练习"]
    assert tokenize("OCRmyPDF支持PDF") == ["ocrmypdf", "支持", "pdf"]
    assert tokenize("猫") == ["猫"]


def test_search_ranks_rare_terms_and_skips_unknown_ones() -> None:
    index = LexicalIndex(
        ["a", "b", "c"],
        ["box breathing for calm", "breathing before sleep", "morning coffee ritual"],
    )
    assert index.search("box breathing", 2)[0][0] == "a"
    assert [i for i, _ in index.search("coffee", 5)] == ["c"]
    assert index.search("zebra", 5) == []
    assert index.search("the", 5) == []


def test_empty_index_finds_nothing() -> None:
    assert LexicalIndex([], []).search("anything", 3) == []


def test_chinese_question_finds_chinese_text() -> None:
    index = LexicalIndex(["zh", "en"], ["OCRmyPDF 为扫描的 PDF 文件添加文字层", "Add a text layer"])
    assert index.search("如何添加文字层", 1)[0][0] == "zh"


def test_word_measures_fold_stems_and_spelling_variants() -> None:
    index = LexicalIndex(
        ["a", "b", "c", "d"],
        [
            "Your rights under this License are reinstated automatically.",
            "Risk is ranked by likelihood and impact.",
            "Green tea is brewed at 80 degrees.",
            "Sessions end after five minutes.",
        ],
    )
    # "licence" is "License" misspelt the British way, "reinstate" a stem of "reinstated"
    assert index.unfamiliar("How is my licence reinstated?") == 0.0
    assert index.coverage("How are risks ranked?", ["b"]) == 1.0
    assert index.coverage("How are risks ranked?", ["c"]) == 0.0
    # a word no document has, nor anything one letter from it, stays unfamiliar
    assert index.unfamiliar("How do I remove a red wine stain?") == 1.0
    assert index.unfamiliar("Как заварить чай?") == 0.0  # not in the documents' script
