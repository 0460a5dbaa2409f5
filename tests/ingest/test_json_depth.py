"""The nesting limit of a JSON record (`decode_json`'s NESTING_TOO_DEEP) is measured on the text, in one pass over
its bytes: it must be the depth of the decoded value, whatever brackets, quotes and escapes the strings hold."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from assets.ingest.common.jsonvalue import MAX_DEPTH, decode_json, text_depth
from assets.quarantine import Rejected


def _value_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_value_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_value_depth(v) for v in value), default=0)
    return 0


TEXTS = [
    b'1', b'"x"', b'[]', b'{}', b'[[]]', b'{"a":{"b":[1,{"c":[]}]}}', b'[1,[2,[3,[4]]],5]',
    b'{"a":"[[[{{{"}', b'{"a":"say \\"[[[\\" ok","b":[]}', b'["\\\\",[["\\\\\\""]]]', b'["\\u005b\\u007b",[]]',
    '{"café":["☃[",{"ü":"]}"}]}'.encode(), b' [ { "a" : [ ] } ] ',
    orjson.dumps({"records": [{"id": i, "lines": [{"n": [i, [i]]}]} for i in range(50)]}),
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_depth_is_the_depth_of_the_decoded_value(text):
    assert text_depth(np.frombuffer(text, np.uint8)) == _value_depth(orjson.loads(text))


def test_records_at_the_limit_pass_and_one_level_deeper_is_rejected_even_behind_string_brackets():
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    too_deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert decode_json(at_limit.encode()) is not None
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # inside an object: MAX_DEPTH levels in all
    assert decode_json(f'{{"s":"{"[" * 100}","v":{inner}}}') == {"s": "[" * 100, "v": orjson.loads(inner)}
    for text in (too_deep, too_deep.encode(), f'{{"s":"]]]]","v":{too_deep}}}'):
        with pytest.raises(Rejected) as caught:
            decode_json(text)
        assert caught.value.code == "NESTING_TOO_DEEP"
