"""The GB 35181 judgement proposal: the editions as data, the edition in force on the day of the
check, direct and composite elements per premises kind, exclusions, and the collective decision."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from portal.domain.casework import judgement
from portal.domain.casework.events import WorkflowError
from portal.domain.casework.judgement import EditionDataError, parse_edition, propose
from tests.conftest import repo_path

GB2017 = "GB 35181-2017"
GB2025 = "GB 35181-2025"

# A small edition of our own, so that the counting is tested apart from the shipped data.
SAMPLE = """
[edition]
code = "TEST-1"
title = "测试版"
in_force_from = 2030-01-01
complete = true
confirmed = true

[[premises_kinds]]
id = "crowded"
label = "人员密集场所"
confirmed = true

[[premises_kinds]]
id = "other"
label = "其他场所"
confirmed = true

[[exclusions]]
id = "x"
text = "单位已停止使用的。"
confirmed = true

[[direct]]
id = "d1"
text = "直接要素一。"
confirmed = true

[[direct]]
id = "d2"
text = "只适用于人员密集场所的直接要素。"
kinds = ["crowded"]
confirmed = true

[[composite]]
id = "c1"
text = "综合要素一。"
confirmed = true

[[composite]]
id = "c2"
text = "综合要素二。"
confirmed = true

[[composite]]
id = "c3"
text = "综合要素三。"
confirmed = false
note = "未核实。"
former_ids = ["old-c3"]

[[composite_rules]]
id = "r-crowded"
kinds = ["crowded"]
min_count = 2
confirmed = true

[[composite_rules]]
id = "r-other"
kinds = ["other"]
min_count = 3
confirmed = true
"""


@pytest.fixture
def sample() -> judgement.Edition:
    return parse_edition(SAMPLE, "sample.toml")


# ---------------------------------------------------------------- the shipped data


def test_every_data_file_loads_and_every_id_is_unique() -> None:
    files = sorted(judgement.DATA_DIR.glob("*.toml"))
    assert [f.name for f in files] == ["2017.toml", "2025.toml"]
    loaded = judgement.load_editions(judgement.DATA_DIR)
    assert [e.code for e in loaded] == [GB2017, GB2025]
    for file in files:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
        ids = [item["id"] for key in ("exclusions", "direct", "composite")
               for item in raw.get(key, [])]
        ids += [old for key in ("direct", "composite") for item in raw.get(key, [])
                for old in item.get("former_ids", [])]
        assert len(ids) == len(set(ids)), file.name
        for key in ("premises_kinds", "composite_rules", "sources"):
            keyed = [item["id"] for item in raw.get(key, [])]
            assert len(keyed) == len(set(keyed)), (file.name, key)
        # Every item says whether it was checked, and an unchecked one says why.
        for key in ("premises_kinds", "exclusions", "direct", "composite", "composite_rules"):
            for item in raw.get(key, []):
                assert isinstance(item["confirmed"], bool), (file.name, item["id"])
                assert item["confirmed"] or item.get("note"), (file.name, item["id"])


def test_the_2017_edition_has_its_ten_direct_elements_and_four_composite_rules() -> None:
    gb2017 = judgement.edition(GB2017)
    assert [e.id for e in gb2017.direct] == [f"6.{n}" for n in range(1, 11)]
    assert [r.id for r in gb2017.composite_rules] == ["5.3.3a", "5.3.3b", "5.3.3c", "5.3.3d"]
    assert {k.id for k in gb2017.premises_kinds} == {"crowded", "hazmat", "important", "other"}
    assert gb2017.complete and not judgement.edition(GB2025).complete


def test_the_data_files_are_package_data() -> None:
    pyproject = tomllib.loads(repo_path("pyproject.toml").read_text(encoding="utf-8"))
    assert "data/gb35181/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["portal"]


@pytest.mark.parametrize(("day", "code"), [
    (dt.date(2025, 10, 31), GB2017),
    (dt.date(2025, 11, 1), GB2025),
    (dt.date(2018, 7, 1), GB2017),
    (dt.date(2031, 1, 1), GB2025),
])
def test_edition_for_picks_the_edition_in_force_on_the_day_of_the_check(
    day: dt.date, code: str
) -> None:
    assert judgement.edition_for(day).code == code


def test_no_edition_before_the_2017_one_came_into_force() -> None:
    with pytest.raises(ValueError, match="2018-06-30"):
        judgement.edition_for(dt.date(2018, 6, 30))


# ---------------------------------------------------------------- the proposal


def test_one_direct_element_proposes_major_and_says_which() -> None:
    proposal = propose(judgement.edition(GB2017), "other", {"6.4"})
    assert proposal.major
    assert proposal.direct == ("6.4",)
    assert proposal.reasons == (
        "符合直接判定要素 6.4：甲、乙类生产场所和仓库设置在建筑的地下室或半地下室。",)
    assert proposal.warnings == ()  # 6.4 was seen in the sources


@pytest.mark.parametrize(("kind", "threshold"), [("crowded", 2), ("other", 3)])
def test_composite_elements_propose_major_from_the_threshold_of_the_kind(
    sample: judgement.Edition, kind: str, threshold: int
) -> None:
    elements = ["c1", "c2", "c3"]
    below = propose(sample, kind, elements[: threshold - 1])
    assert not below.major
    assert f"综合判定要素 {threshold - 1} 项" in below.reasons[0]
    assert f"达到 {threshold} 项" in below.reasons[0]
    at = propose(sample, kind, elements[:threshold])
    assert at.major
    assert at.composite == tuple(elements[:threshold])
    label = sample.premises_kind(kind).label
    assert at.reasons[0].startswith(
        f"符合 {threshold} 项综合判定要素（{label}达到 {threshold} 项即可判定")


@pytest.mark.parametrize(("kind", "below", "at"), [
    # 5.3.3a: three of 7.3.1～7.3.9, 7.5, 7.9.3; four elsewhere are not enough below c).
    ("crowded", ["7.3.1", "7.3.2", "7.1.1"], ["7.3.1", "7.3.2", "7.5"]),
    # 5.3.3c: any four.
    ("crowded", ["7.1.1", "7.2.1", "7.4.1"], ["7.1.1", "7.2.1", "7.4.1", "7.6.1"]),
    # 5.3.3b: three of 7.1.1～7.1.3, 7.4.5, 7.4.6.
    ("hazmat", ["7.1.1", "7.1.2", "7.3.1"], ["7.1.1", "7.1.2", "7.4.6"]),
    ("important", ["7.1.1", "7.2.1", "7.4.1"], ["7.1.1", "7.2.1", "7.4.1", "7.6.1"]),
    # 5.3.3d: six.
    ("other", ["7.1.1", "7.2.1", "7.4.1", "7.6.1", "7.8.1"],
     ["7.1.1", "7.2.1", "7.4.1", "7.6.1", "7.8.1", "7.9.1"]),
])
def test_the_2017_composite_thresholds_per_premises_kind(
    kind: str, below: list[str], at: list[str]
) -> None:
    gb2017 = judgement.edition(GB2017)
    assert not propose(gb2017, kind, below).major
    assert propose(gb2017, kind, at).major


def test_a_crowded_place_names_the_rule_and_its_scope() -> None:
    proposal = propose(judgement.edition(GB2017), "crowded", ["7.3.1", "7.3.2", "7.5"])
    assert proposal.rules_met == ("5.3.3a",)
    assert proposal.reasons == (
        "符合 3 项综合判定要素（人员密集场所在 7.3.1～7.3.9、7.5、7.9.3 中达到 3 项即可判定，"
        "5.3.3a）：7.3.1、7.3.2、7.5",)
    # The rule's scope and threshold were not seen in a copy of the standard: the page says so.
    assert proposal.warnings == ("以下依据未经与标准正式文本核对：5.3.3a",)


def test_an_exclusion_prevents_the_proposal() -> None:
    proposal = propose(judgement.edition(GB2017), "hazmat", ["6.1", "7.1.1"], ["5.1.3b"])
    assert not proposal.major
    assert proposal.exclusions == ("5.1.3b",)
    assert proposal.direct == () and proposal.composite == ()
    assert proposal.reasons == ("已排除：5.1.3b 单位、场所已停产停业或停止使用的。",)


def test_nothing_recorded_proposes_nothing(sample: judgement.Edition) -> None:
    proposal = propose(sample, "crowded", [])
    assert not proposal.major
    assert proposal.reasons == ("未记录不能立即改正的判定要素。",)


def test_an_element_limited_to_other_kinds_does_not_count(sample: judgement.Edition) -> None:
    proposal = propose(sample, "other", ["d2"])
    assert not proposal.major
    assert "要素 d2 不适用于其他场所，未计入。" in proposal.reasons
    assert propose(sample, "crowded", ["d2"]).major


def test_a_former_id_still_resolves_and_unconfirmed_data_is_flagged(
    sample: judgement.Edition,
) -> None:
    proposal = propose(sample, "crowded", ["c1", "old-c3"])
    assert proposal.major and proposal.composite == ("c1", "c3")
    assert proposal.warnings == ("以下依据未经与标准正式文本核对：c3",)


def test_an_incomplete_edition_warns_that_no_proposal_is_not_a_no() -> None:
    proposal = propose(judgement.edition(GB2025), "crowded", [])
    assert not proposal.major
    assert any("清单不完整" in w for w in proposal.warnings)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"premises_kind": "crowded", "found": ["9.9"]}, "9.9"),
    ({"premises_kind": "crowded", "found": ["d1"], "exclusions": ["nope"]}, "nope"),
    ({"premises_kind": "market", "found": ["d1"]}, "market"),
])
def test_unknown_ids_raise_value_error(
    sample: judgement.Edition, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        propose(sample, **kwargs)  # type: ignore[arg-type]


def test_one_string_is_not_taken_for_a_set_of_ids(sample: judgement.Edition) -> None:
    with pytest.raises(TypeError):
        propose(sample, "crowded", "c1")


# ---------------------------------------------------------------- the data checks


@pytest.mark.parametrize(("change", "message"), [
    (("id = \"c2\"", "id = \"c1\""), "used more than once: c1"),
    (("former_ids = [\"old-c3\"]", "former_ids = [\"d1\"]"), "used more than once: d1"),
    (("kinds = [\"crowded\"]\nconfirmed = true\n\n[[composite]]",
      "kinds = [\"market\"]\nconfirmed = true\n\n[[composite]]"), "unknown premises kind"),
    (("min_count = 3", "min_count = 4"), "min_count"),
    (("text = \"综合要素一。\"\nconfirmed = true", "text = \"综合要素一。\"\nconfimed = true"),
     "unknown key"),
    (("in_force_from = 2030-01-01", "in_force_from = \"2030-01-01\""), "in_force_from must be"),
    (("note = \"未核实。\"\n", ""), "needs a note"),
])
def test_a_malformed_data_file_is_refused_with_the_place(
    change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in SAMPLE
    with pytest.raises(EditionDataError, match=message) as refused:
        parse_edition(SAMPLE.replace(old, new, 1), "sample.toml")
    assert "sample.toml" in str(refused.value)


def test_editions_whose_periods_overlap_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(SAMPLE, encoding="utf-8")
    later = SAMPLE.replace("TEST-1", "TEST-2").replace("2030-01-01", "2031-01-01")
    (tmp_path / "b.toml").write_text(later, encoding="utf-8")
    with pytest.raises(EditionDataError, match="TEST-1 is still in force"):
        judgement.load_editions(tmp_path)
    (tmp_path / "a.toml").write_text(
        SAMPLE.replace("in_force_from = 2030-01-01",
                       "in_force_from = 2030-01-01\nsuperseded_on = 2031-01-01"),
        encoding="utf-8")
    judgement.load_editions.cache_clear()
    loaded = judgement.load_editions(tmp_path)
    assert judgement.edition_for(dt.date(2030, 12, 31), among=loaded).code == "TEST-1"
    assert judgement.edition_for(dt.date(2031, 1, 1), among=loaded).code == "TEST-2"


# ---------------------------------------------------------------- the collective decision


def test_validate_decision_refuses_two_participants() -> None:
    with pytest.raises(WorkflowError, match="不少于 3 人"):
        judgement.validate_decision(["张三", "李四"], "安全出口被封堵，不能立即改正")


def test_repeated_or_blank_names_do_not_make_up_the_three() -> None:
    with pytest.raises(WorkflowError, match="现只填写了 2 位"):
        judgement.validate_decision(["张三", " 张三 ", "", "李四"], "理由")


def test_a_decision_needs_a_reason() -> None:
    with pytest.raises(WorkflowError, match="判定理由"):
        judgement.validate_decision(["张三", "李四", "王五"], "  ")


def test_a_valid_decision_keeps_the_names_the_reason_and_the_expert_review() -> None:
    decision = judgement.validate_decision(["张三", "李四", "王 五"], " 符合 6.4 ",
                                           expert_review=True)
    assert decision == judgement.CollectiveDecision(
        participants=("张三", "李四", "王 五"), reason="符合 6.4", expert_review=True)
