"""Losing a race on purpose: another request's write lands between a service's read and its write."""


def write_after_first_read(monkeypatch, store, write, method="get_stored"):
    """Make `write(record_id)` run right after the first `store.<method>(record_id)` returns (the
    write that wins the race); the list of what each read returned, which grows as reads are made."""
    real, reads = getattr(store, method), []

    def read(record_id):
        stored = real(record_id)
        reads.append(stored)
        if len(reads) == 1:
            write(record_id)
        return stored

    monkeypatch.setattr(store, method, read)
    return reads
