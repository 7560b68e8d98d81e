"""bench/profile_pairs.py without py-spy: reading collapsed stacks (torn ones included), the shares
per category and function, and what they come to per request."""

import pytest

from bench.profile_pairs import pyspy_command, read_stacks, shares, summary

pytestmark = pytest.mark.fast

HANDLER = "ArticleGateway.read_airport (bench/article_gateway.py:29)"
PUBLISH = "Publisher.publish (nameko/amqp/publish.py:209)"
LOG = "Logger.info (logging/__init__.py:1489)"
WSGI = "HttpProtocol.handle_one_request (eventlet/wsgi.py:400)"


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_bytes("\n".join(lines).encode() + b"\n")
    return path


def test_stacks_are_read_without_line_numbers_and_torn_lines_are_skipped(tmp_path):
    path = write(
        tmp_path,
        "a.txt",
        [f"{HANDLER};{PUBLISH} 6", f"{WSGI};{LOG} 2", "garbage\x1c\x85 without a count", f"{WSGI} 2"],
    )
    stacks = read_stacks(path)
    assert stacks == [
        (["ArticleGateway.read_airport (bench/article_gateway.py)", "Publisher.publish (nameko/amqp/publish.py)"], 6),
        (["HttpProtocol.handle_one_request (eventlet/wsgi.py)", "Logger.info (logging/__init__.py)"], 2),
        (["HttpProtocol.handle_one_request (eventlet/wsgi.py)"], 2),
    ]
    categories, functions = shares(stacks)
    assert categories["the handler (bench/*_gateway.py)"] == 0.6
    assert categories["RPC publish (nameko Publisher, confirms)"] == 0.6
    assert categories["HTTP server: read, parse, write (eventlet.wsgi)"] == 0.4
    assert categories["logging"] == 0.2 and "json" not in categories
    assert functions["HttpProtocol.handle_one_request (eventlet/wsgi.py)"] == 0.4


def test_the_summary_turns_shares_into_microseconds_per_request(tmp_path):
    article = read_stacks(write(tmp_path, "a.txt", [f"{HANDLER};{PUBLISH} 5", f"{WSGI};{LOG} 5"]))
    baseline = read_stacks(write(tmp_path, "b.txt", [f"{HANDLER};{PUBLISH} 8", f"{WSGI} 2"]))
    text = summary(
        [
            {"target": "article", "gateway_us": 1000, "stacks": article},
            {"target": "baseline", "gateway_us": 500, "stacks": baseline},
        ]
    )
    logging_row = next(line for line in text.splitlines() if line.startswith("logging"))
    assert logging_row.split()[1:] == ["50.0", "0.0", "500", "0"]  # 50 % of 1000 us, none of the other's
    # the handler: 50 % of 1000 us against 80 % of 500 us, a difference of +100 us
    assert any(line.split()[:1] == ["+100"] and "read_airport" in line for line in text.splitlines())


def test_py_spy_records_the_gateway_in_raw_form():
    argv = pyspy_command("/usr/bin/py-spy", 4242, 14.6, 200, "/tmp/x.txt")
    assert argv == ["/usr/bin/py-spy", "record", "-r", "200", "-d", "14", "--pid", "4242", "--format", "raw"] + [
        "-o",
        "/tmp/x.txt",
    ]
    assert pyspy_command("py-spy", 1, 5, 100, "p", nonblocking=True)[-1] == "--nonblocking"
