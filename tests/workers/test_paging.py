"""Cursor pagination: creation order, each record exactly once, cursors bound to their listing."""

import threading

import pytest
from nameko.testing.services import worker_factory

from schemas.errors import ValidationError
from workers.airports.service import AirportsService
from workers.common.paging import encode_cursor

pytestmark = pytest.mark.fast


@pytest.fixture
def airports(airport_store, incoming_call):
    return worker_factory(AirportsService, store=airport_store, incoming=incoming_call())


def walk(service, limit, between_pages=lambda: None):
    seen, cursor = [], None
    while True:
        page = service.list(limit=limit, cursor=cursor)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        between_pages()


def test_pages_follow_creation_order(airports):
    ids = [airports.create(name=f"A{i}")["id"] for i in range(25)]
    first = airports.list(limit=10)
    assert [a["id"] for a in first["items"]] == ids[:10]
    assert walk(airports, 10) == ids


def test_the_last_page_has_no_cursor(airports):
    airports.create(name="only")
    assert airports.list()["next_cursor"] is None
    assert airports.list(limit=1)["next_cursor"] is None


def test_inserts_while_walking_are_seen_exactly_once(airports):
    initial = [airports.create(name=f"A{i}")["id"] for i in range(12)]
    added = []
    seen = walk(airports, 5, between_pages=lambda: added.append(airports.create(name="late")["id"]))
    assert sorted(seen) == sorted(initial + added)
    assert len(seen) == len(set(seen))
    assert seen[:12] == initial


def test_concurrent_writers_never_make_a_walk_repeat_or_skip(airports, airport_store):
    stop = threading.Event()
    created = []

    def writer():
        while not stop.is_set():
            created.append(airports.create(name="concurrent")["id"])

    threads = [threading.Thread(target=writer) for _ in range(3)]
    [t.start() for t in threads]
    try:
        seen = walk(airports, 7)
    finally:
        stop.set()
        [t.join() for t in threads]
    assert len(seen) == len(set(seen))
    # Everything committed before the walk ended is either seen or came after its last page.
    final = walk(airports, 100)
    assert seen == final[: len(seen)]


def test_deletions_between_pages_skip_nothing_else(airports):
    ids = [airports.create(name=f"A{i}")["id"] for i in range(10)]
    page = airports.list(limit=4)
    airports.delete(ids[4])
    airports.delete(ids[1])
    rest = walk_from(airports, page["next_cursor"], 4)
    assert rest == ids[5:]


def walk_from(service, cursor, limit):
    seen = []
    while cursor:
        page = service.list(limit=limit, cursor=cursor)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    return seen


@pytest.mark.parametrize(
    "cursor",
    [
        "nope",
        "!!!",
        encode_cursor("trips", 3),
        encode_cursor("airports", "x"),
        encode_cursor("airports", "-1"),
        encode_cursor("airports", "\u00b2"),
        encode_cursor("airports", "1" * 19),
        "a" * 200,
    ],
)
def test_a_cursor_that_is_not_ours_is_a_validation_error(airports, cursor):
    with pytest.raises(ValidationError) as error:
        airports.list(cursor=cursor)
    assert error.value.errors == {"cursor": ["Not a valid cursor."]}


@pytest.mark.parametrize("limit", [0, 101, -5, "ten", None, 10**30])
def test_the_page_size_is_bounded(airports, limit):
    with pytest.raises(ValidationError) as error:
        airports.list(limit=limit)
    assert "limit" in error.value.errors
