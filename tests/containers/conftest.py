import pytest
from amqp.transport import TCPTransport


@pytest.fixture
def frames_read(monkeypatch):
    """Every AMQP frame the test process's connections read (the workers' containers' and the
    test's proxies'), as (type, channel, payload), in order."""
    read, frames = TCPTransport.read_frame, []

    def recording(self, *args):
        frames.append(read(self, *args))
        return frames[-1]

    monkeypatch.setattr(TCPTransport, "read_frame", recording)
    return frames
