import pytest

from workers.runtime.transport import BufferedTCPTransport


@pytest.fixture
def frames_read(monkeypatch):
    """Every AMQP frame the test process's connections read, as (type, channel, payload), in
    order: the workers' connections read through workers/runtime/transport.py once a service
    container is made (and this process's other connections too, then)."""
    read, frames = BufferedTCPTransport.read_frame, []

    def recording(self, *args):
        frames.append(read(self, *args))
        return frames[-1]

    monkeypatch.setattr(BufferedTCPTransport, "read_frame", recording)
    return frames
