"""What a client without a token can do to the gateway, through both apps over the real services in
this process (the fast tier): rate limits, metric labels it cannot grow, untyped bodies, CORS
caching, the description's caching. The servers' limits: tests/drills/test_hostile_clients.py."""

import re

import pytest

from gateway.http.ratelimit import TokenBuckets
from gateway.metrics import OTHER, method_label, status_label

pytestmark = pytest.mark.fast


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_token_bucket_lets_a_burst_through_then_refills_at_its_rate():
    clock = Clock()
    buckets = TokenBuckets(3, 6.0, clock=clock)  # 3 requests per 6 s: a token every 2 s
    assert [buckets.take("a")[0] for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")[0]  # each key its own bucket
    clock.now += 2.0
    assert buckets.take("a")[0] and not buckets.take("a")[0]
    clock.now += 60
    assert buckets.take("a") == (True, 2)  # full again, never fuller


def test_the_buckets_are_bounded_forgetting_the_least_recently_used():
    buckets = TokenBuckets(1, 60.0, max_keys=3)
    for key in "abcd":
        buckets.take(key)
    assert len(buckets) == 3
    assert buckets.take("a")[0]  # forgotten: a full bucket again
    assert not buckets.take("d")[0]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_over_the_rate_limit_a_client_gets_429_with_the_ietf_headers(kind, make_api, assert_problem):
    api = make_api(kind, rate_limit="3/60")
    answers = [api.get("/airports?limit=1") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert answers[0].headers["ratelimit"] == '"default";r=2;t=20'
    problem = assert_problem(answers[3], 429, type="tag:nameko-travel,2026:rate-limited")
    assert "3 requests in 60 seconds" in problem["detail"]
    assert answers[3].headers["retry-after"] == "20" and answers[3].headers["ratelimit"].startswith('"default";r=0;')
    assert api.get("/health/live").status_code == 200  # probes are never limited
    doc = api.get("/openapi.json")
    assert doc.status_code == 429  # everything else is
    assert "ratelimit" not in make_api(kind).get("/airports?limit=1").headers  # off by default


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_with_auth_the_bucket_is_the_tokens_and_a_wrong_token_is_just_an_address(kind, make_api):
    api = make_api(kind, rate_limit="2/60", api_tokens="t1,t2")
    mine = {"Authorization": "Bearer t1"}
    assert [api.get("/airports?limit=1", headers=mine).status_code for _ in range(3)] == [200, 200, 429]
    assert api.get("/airports?limit=1", headers={"Authorization": "Bearer t2"}).status_code == 200
    guesses = [api.get("/airports?limit=1", headers={"Authorization": f"Bearer guess{n}"}) for n in range(3)]
    assert [g.status_code for g in guesses] == [200, 200, 429]  # made-up tokens share their address's bucket


def test_the_description_lists_429_where_limits_apply(api):
    doc = api.get("/openapi.json").json
    assert "429" in doc["paths"]["/airports"]["get"]["responses"]
    assert "429" not in doc["paths"]["/health/live"]["get"]["responses"]
    headers = doc["components"]["responses"]["TooManyRequests"]["headers"]
    assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(headers)


def test_label_values_a_client_chooses_are_bounded():
    assert method_label("GET") == "GET" and method_label("M0fe3a") == OTHER
    assert status_label(404) == 404 and status_label(599) == OTHER


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.filterwarnings("ignore::wsgiref.validate.WSGIWarning")  # the made-up methods, as the test client checks
def test_2000_made_up_requests_grow_metrics_by_a_few_series(kind, make_api):
    api = make_api(kind)

    def series():
        text = api.get("/metrics").text
        return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith("gateway_http_")}

    api.request("FOO", "/airports")
    api.get("/made-up")
    series()  # the scrape's own series
    before = series()
    for n in range(1000):
        api.request(f"M{n}", "/airports")
        api.get(f"/made-up/{n}?x={n}")
    grown = series() - before
    assert len(grown) <= 5, sorted(grown)[:10]
    assert not any(re.search(r'method="M\d', line) or "/made-up/" in line for line in series())


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_post_with_content_but_no_type_is_415_whatever_auth_says(kind, make_api, assert_problem):
    api = make_api(kind)
    assert_problem(api.post("/airports", body=b'{"name": "x"}', headers={"Content-Type": ""}), 415)
    assert_problem(api.post("/trips", body=b"{}", headers={"Content-Type": ""}), 415)
    untyped_delete = api.delete("/airports/" + "a" * 32, body=b"{}", headers={"Content-Type": ""})
    assert_problem(untyped_delete, 415)
    assert api.delete("/airports/" + "a" * 32).status_code == 404  # no content: no type needed
    # the article's routes read JSON whatever the type says, as `curl -d` sends it (README)
    legacy = api.post("/airport", body=b'{"airport": "untyped"}', headers={"Content-Type": ""})
    assert legacy.status_code == 200, legacy.text


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_with_cors_on_every_response_says_it_varies_with_origin(kind, make_api):
    api = make_api(kind, cors_origins="https://app.example")
    for headers in ({"Origin": "https://app.example"}, {"Origin": "https://evil.example"}, {}):
        assert "Origin" in api.get("/airports?limit=1", headers=headers).headers["vary"], headers
    preflight = api.request(
        "OPTIONS", "/airports", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Request-Method" in preflight.headers["vary"]
    assert "vary" not in make_api(kind).get("/airports?limit=1").headers  # CORS off: nothing varies


def test_the_description_is_revalidated_not_cached_for_an_hour(api):
    first = api.get("/openapi.json")
    assert first.headers["cache-control"] == "no-cache"
    again = api.get("/openapi.json", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert api.get("/openapi.yaml").headers["etag"] != first.headers["etag"]
