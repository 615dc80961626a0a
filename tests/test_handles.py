"""An @handle that spells a name of its post takes that name's type and reaches the graph as an
alias of it (ner/handles.py); sub-accounts and namesakes stay candidates."""
from __future__ import annotations

from mmkg.cli.query import main as query_main
from mmkg.cli.run import main as run_main
from mmkg.ner.handles import spells, type_handles
from mmkg.schemas.records import NER, NER_CANDIDATE, EntityMention

REPO_EXAMPLES = "examples/posts.jsonl"


def mentions(text, *spans):
    """EntityMentions of ``text``: (surface, type) typed by the student, (surface, None) candidates."""
    out = []
    for surface, etype in spans:
        start = text.index(surface)
        out.append(EntityMention(surface, start, start + len(surface), etype, NER if etype else NER_CANDIDATE))
    return out


def test_a_handle_with_the_letters_of_a_name_or_its_account_word_spells_it():
    assert spells("@GregoryPorter", "Gregory Porter", "PER")
    assert spells("@TheSun", "The Sun", "MISC")
    assert spells("@LouvreMuseum", "Louvre", "LOC")
    assert spells("@OfficialRCTI", "RCTI", "ORG")
    assert spells("@realDonaldTrump", "Donald Trump", "PER")


def test_sub_accounts_and_namesakes_do_not_spell_the_name():
    assert not spells("@NYC_DOT", "NYC", "LOC")
    assert not spells("@InfoGeneva", "Geneva", "LOC")
    assert not spells("@RealMadrid", "Madrid", "LOC")  # "real" marks a person's account only
    assert not spells("@MadridOfficial", "Madrid", "LOC")  # a place has no official account of itself
    assert not spells("@alycianews", "Alycia", "PER")
    assert not spells("@USA", "US", "LOC")  # too few letters to tell


def test_a_candidate_handle_takes_the_type_of_the_name_it_spells():
    text = "The Louvre in Paris welcomed record crowds . @LouvreMuseum @NYC_DOT"
    given = mentions(text, ("Louvre", "LOC"), ("Paris", "LOC"), ("@LouvreMuseum", None), ("@NYC_DOT", None))
    typed, n = type_handles(given)
    assert n == 1
    assert [(m.text, m.type, m.source) for m in typed] == [
        ("Louvre", "LOC", NER), ("Paris", "LOC", NER), ("@LouvreMuseum", "LOC", NER), ("@NYC_DOT", None, NER_CANDIDATE)]


def test_a_handle_two_names_of_different_types_spell_stays_a_candidate():
    text = "Jordan ( the country ) and Jordan ( the player ) @Jordan"
    first = text.index("Jordan")
    second = text.index("Jordan", first + 1)
    given = [EntityMention("Jordan", first, first + 6, "LOC", NER), EntityMention("Jordan", second, second + 6, "PER", NER),
             *mentions(text, ("@Jordan", None))]
    typed, n = type_handles(given)
    assert n == 0 and typed[2].type is None and typed[2].source == NER_CANDIDATE


def test_the_readme_example_at_its_default_cut_has_louvre_and_its_handle_as_one_entity(tmp_path, capsys):
    data = tmp_path / "data"
    assert run_main(["--input", REPO_EXAMPLES, "--llm", "none", "--data-dir", str(data)]) == 0
    assert "(1 @handle typed by the name it spells)" in capsys.readouterr().out
    assert query_main(["entity", "@LouvreMuseum", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "entity: Louvre (LOC)" in out
    assert "aliases: @LouvreMuseum, Louvre" in out
