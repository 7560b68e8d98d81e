"""The article's walkthrough, byte for byte where it prints bytes, through both apps.

`curl -d` sends application/x-www-form-urlencoded, so that is what these requests send."""

import re

import pytest

pytestmark = pytest.mark.fast

CURL_FORM = {"content-type": "application/x-www-form-urlencoded"}


def post_like_curl(api, path, text):
    return api.post(path, body=text.encode(), headers=CURL_FORM)


def test_the_walkthrough(api):
    first = post_like_curl(api, "/airport", '{"airport": "first_airport"}')
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    assert first.headers["content-length"] == "32"
    assert re.fullmatch(r"[0-9a-f]{32}", first.text)

    fetched = api.get(f"/airport/{first.text}")
    assert fetched.status_code == 200
    assert fetched.text == '{"airport": "first_airport"}'

    second = post_like_curl(api, "/airport", '{"airport": "second_airport"}').text
    trip = post_like_curl(api, "/trip", f'{{"airport_from": "{first.text}", "airport_to": "{second}"}}')
    assert trip.status_code == 200 and trip.headers["content-type"] == "text/plain; charset=utf-8"
    assert re.fullmatch(r"[0-9a-f]{32}", trip.text)

    shown = api.get(f"/trip/{trip.text}")
    assert shown.json == {"trip": {"from": first.text, "to": second}}  # an object, not a string
    assert shown.text == f'{{"trip": {{"from": "{first.text}", "to": "{second}"}}}}'


def test_records_made_the_old_way_are_there_the_new_way(api):
    airport_id = post_like_curl(api, "/airport", '{"airport": "old style"}').text
    assert api.get(f"/airports/{airport_id}").json["name"] == "old style"


def test_unknown_ids_are_404_not_null(api, assert_problem):
    assert_problem(api.get("/airport/" + "a" * 32), 404)
    assert_problem(api.get("/trip/" + "a" * 32), 404)
    assert_problem(api.get("/airport/whatever"), 404)


def test_bad_bodies_on_the_old_routes_are_clean_errors(api, assert_problem):
    assert_problem(post_like_curl(api, "/airport", '{"name": "wrong key"}'), 422)
    assert_problem(post_like_curl(api, "/airport", "airport=first"), 400)
    problem = assert_problem(
        post_like_curl(api, "/trip", f'{{"airport_from": "{"1" * 32}", "airport_to": "{"2" * 32}"}}'), 422
    )
    assert set(problem["errors"]) == {"airport_from", "airport_to"}


DEPRECATED_SINCE = "@1795737600"  # 2026-11-27, when the gateway first marked these routes deprecated


def test_the_articles_routes_say_they_are_deprecated_and_what_replaces_them(api, airport, trip):
    made = trip()
    for method, path, successor in [
        ("POST", "/airport", "</airports>"),
        ("GET", f"/airport/{made['airport_from']}", f"</airports/{made['airport_from']}>"),
        ("POST", "/trip", "</trips>"),
        ("GET", f"/trip/{made['id']}", f"</trips/{made['id']}>"),
        ("GET", "/airport/" + "0" * 32, "</airports/" + "0" * 32 + ">"),  # an error says so too
        ("POST", "/trip", "</trips>"),
    ]:
        body = b'{"airport": "x"}' if path == "/airport" else b"{}"
        result = api.request(method, path, body=body if method == "POST" else None, headers=CURL_FORM)
        assert result.headers["deprecation"] == DEPRECATED_SINCE, (method, path, result.status_code)
        assert result.headers["link"] == f'{successor}; rel="successor-version"', (method, path)
        assert "sunset" not in result.headers  # no removal is decided


def test_a_successor_link_never_carries_what_the_path_had_raw(api):
    result = api.get("/airport/a%3E%0D%0Ab")
    assert result.status_code == 404
    assert result.headers["link"] == '</airports/a%3E%0D%0Ab>; rel="successor-version"'


def test_the_current_routes_are_not_deprecated(api, airport):
    assert "deprecation" not in api.get(f"/airports/{airport()['id']}").headers
