"""A text stream that survives one kind of failed write (a hung-up terminal, a closed pipe)."""

from __future__ import annotations


class GuardedStream:
    """Wraps ``stream``: a write or flush that fails with OSError ``code`` calls ``recover()`` (which
    points the stream's file at /dev/null, say) and is tried once more; any other error is raised.
    Everything else is the wrapped stream's."""

    def __init__(self, stream, code: int, recover):
        self._stream, self._code, self._recover = stream, code, recover

    def write(self, text):
        return self._retried(self._stream.write, text)

    def flush(self):
        return self._retried(self._stream.flush)

    def _retried(self, operation, *args):
        try:
            return operation(*args)
        except OSError as exc:
            if exc.errno != self._code:
                raise
            self._recover()
            return operation(*args)

    def __getattr__(self, name):
        return getattr(self._stream, name)
