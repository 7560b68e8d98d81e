"""Entity tags: what a record's ETag is, and when an If-Match holds (RFC 9110 8.8.3, 13.1.1).

The gateway sends the tag with a record; a service compares If-Match against the record it is
about to change, so both compute it here, from the record as JSON (orjson keeps the members in
the order the record has them, in the service and after the trip over the wire alike).
"""

import hashlib

import orjson


def etag_of(record):
    """The strong entity tag of a record (or of any JSON value): quoted, 32 hex digits."""
    return '"' + hashlib.blake2b(orjson.dumps(record), digest_size=16).hexdigest() + '"'


def if_match_holds(if_match, record):
    """Whether If-Match's tags (a list, as the gateway parsed the header) allow changing `record`:
    "*" holds for any record; otherwise one of the tags must equal the record's under strong
    comparison, so a weak tag (W/"...") never does."""
    return "*" in if_match or etag_of(record) in if_match
