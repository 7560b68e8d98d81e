"""If-Match (RFC 9110 13.1.1): how the gateway reads the header, and when a service finds that it
holds (schemas/etags.py). The PATCH operations' tests use it end to end."""

import falcon
import pytest

from gateway.http.requests import if_match
from schemas.etags import etag_of, if_match_holds

pytestmark = pytest.mark.fast

RECORD = {"id": "f" * 32, "name": "Lisbon", "iata": "LIS"}


class Request:
    def __init__(self, value):
        self.value = value

    def get_header(self, name):
        assert name == "If-Match"
        return self.value


@pytest.mark.parametrize(
    "value, tags",
    [
        (None, None),
        ("*", ["*"]),
        ('"abc"', ['"abc"']),
        (' "abc" ,W/"def",""', ['"abc"', 'W/"def"', '""']),
        ("abc, 0", ['"abc"', '"0"']),  # without quotes (a client that strips them): as if quoted
    ],
)
def test_the_header_is_read_as_a_list_of_tags(value, tags):
    assert if_match(Request(value)) == tags


@pytest.mark.parametrize(
    "value", ['"abc', '"a"b"', '*, "abc"', '"abc",', '"tab\there"', '"abc"\n', "a b", "\u00e9", "abc*", "*, *"]
)
def test_a_malformed_header_is_400(value):
    with pytest.raises(falcon.HTTPError) as error:
        if_match(Request(value))
    assert error.value.status_code == 400


def test_it_holds_for_the_current_tag_or_a_star_and_only_under_strong_comparison():
    etag = etag_of(RECORD)
    assert if_match_holds([etag], RECORD)
    assert if_match_holds(['"other"', etag], RECORD)
    assert if_match_holds(["*"], RECORD)
    assert not if_match_holds(['"other"'], RECORD)
    assert not if_match_holds(["W/" + etag], RECORD)  # a weak tag never matches for a change
    assert not if_match_holds([etag], {**RECORD, "name": "Lisboa"})


def test_the_tag_is_the_one_a_get_sends(api, airport):
    record = airport()
    assert api.get(f"/airports/{record['id']}").headers["etag"] == etag_of(record)
