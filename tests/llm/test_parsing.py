from __future__ import annotations

import pytest

from llmnas.llm import parse_json_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2, 3]\n", [1, 2, 3]),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here you go:\n```json\n{"ops": ["conv", "pool"]}\n```\nHope it helps.', {"ops": ["conv", "pool"]}),
        ('I propose {"width": 32, "depth": 4} as the next try.', {"width": 32, "depth": 4}),
        ('Not {this one} but {"that": "one"}', {"that": "one"}),
        ('{"s": "braces } and ] inside \\" strings"}', {"s": 'braces } and ] inside " strings'}),
        ("42", 42),
    ],
)
def test_complete_json(text: str, expected: object) -> None:
    assert parse_json_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"architectures": [{"op": "conv", "w": 8}, {"op": "skip", "w": 16}, {"op": ',
            {"architectures": [{"op": "conv", "w": 8}, {"op": "skip", "w": 16}]},
        ),
        (
            '```json\n{"architectures": [{"op": "conv"}, {"op": "sk',
            {"architectures": [{"op": "conv"}]},
        ),
        ('[{"a": 1}, {"a": 2}, {"a"', [{"a": 1}, {"a": 2}]),
        ('{"a": 1, "b": "text with , comma", "c": ', {"a": 1, "b": "text with , comma"}),
        ('{"principles": ["keep skips", "wide early", "deep la', {"principles": ["keep skips", "wide early"]}),
    ],
)
def test_truncated_answers_are_salvaged(text: str, expected: object) -> None:
    assert parse_json_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "not json at all", "{unquoted: keys}", '{"a": "unterminated', "```json\n```"],
)
def test_nothing_usable_gives_none(text: str | None) -> None:
    assert parse_json_answer(text) is None
