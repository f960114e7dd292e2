"""A readers/writer lock for one model, and the core network wrapped in it.

Inference reads the parameters only, so any number of threads may run it at once; training and
parameter updates write them, so they need the model alone. The core serialises training calls
among themselves but cannot stop inference from reading weights half-way through an update:
this lock does. Writers are preferred (a waiting writer holds back new readers), so a stream of
predictions cannot starve a fit. The thread that holds the write lock may take it again, or read,
without blocking (a callback during training may predict); a thread that holds a read lock must
not ask for the write lock (it would wait for itself).

Ctrl-C: CPython raises KeyboardInterrupt right after a call returns, so it can land between
taking a part of the lock and the `try` that would give it back. Every step that takes something
is therefore inside a `try` that gives back what was taken (the mutex is an RLock so that its
owner can be told), and a leaked reader or writer can never outlive the interrupted call.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["ReadWriteLock", "GuardedNetwork"]

_get_ident = threading.get_ident


class _ReadSide:
    """`with lock.read:`"""

    __slots__ = ("_lock",)

    def __init__(self, lock: "ReadWriteLock"):
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire_read()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release_read()


class _WriteSide(_ReadSide):
    """`with lock.write:`"""

    __slots__ = ()

    def __enter__(self) -> None:
        self._lock.acquire_write()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release_write()


class ReadWriteLock:
    def __init__(self) -> None:
        self._mutex = threading.RLock()       # held by the writer for the whole write
        self._readers_gone = threading.Condition(self._mutex)
        self._writer_gone = threading.Condition(self._mutex)
        # One entry per active reader. list.append/pop are atomic, so a reader enters and leaves
        # without taking the mutex while no writer is about: a read costs well under 1 µs.
        self._readers: list = []
        self._writing = False                 # a writer holds the mutex (waiting or writing)
        self._writer = None                   # thread ident of the writer, once it writes
        self._depth = 0                       # its nesting depth
        self.read = _ReadSide(self)
        self.write = _WriteSide(self)

    def acquire_read(self) -> None:
        if not self._writing:
            self._enter()
            if not self._writing:
                return
            self._leave()                     # a writer came in between: queue behind it
        if self._writer == _get_ident():
            return                            # the writer itself reads: it holds the lock
        with self._mutex:                     # free while a writer waits for readers to leave:
            while self._writing:              # so wait until it has written
                self._writer_gone.wait()
            self._enter()

    def _enter(self) -> None:
        try:
            self._readers.append(None)
        except BaseException:                 # raised after the append: take it back
            self._leave()
            raise

    def release_read(self) -> None:
        if self._writing and self._writer == _get_ident():
            return
        self._leave()

    def _leave(self) -> None:
        self._readers.pop()
        if self._writing and not self._readers:
            with self._readers_gone:
                self._readers_gone.notify_all()

    def acquire_write(self) -> None:
        me = _get_ident()
        if self._writer == me:
            self._depth += 1
            return
        try:
            self._mutex.acquire()
            self._writing = True
            while self._readers:
                # Woken by the last reader; the timeout only bounds a missed wake-up.
                self._readers_gone.wait(0.05)
            self._writer, self._depth = me, 1
        except BaseException:  # e.g. KeyboardInterrupt while waiting: give everything back
            self.abandon_write()
            raise

    def abandon_write(self) -> None:
        """Give back a write lock whose acquire_write was interrupted part-way (if this thread
        got as far as taking the mutex); nothing happens otherwise."""
        if not self._mutex._is_owned() or (self._writer == _get_ident() and self._depth > 0):
            return
        self._writer, self._depth = None, 0
        self._writing = False
        self._writer_gone.notify_all()
        while self._mutex._is_owned():
            self._mutex.release()

    def release_write(self) -> None:
        if self._writer != _get_ident():
            raise RuntimeError("release_write: this thread does not hold the write lock")
        self._depth -= 1
        if self._depth:
            return
        self._writer = None
        self._writing = False
        self._writer_gone.notify_all()
        self._mutex.release()


def _exclusive(fn: Callable[..., Any], lock: ReadWriteLock) -> Callable[..., Any]:
    """fn under the write lock."""
    acquire, release = lock.acquire_write, lock.release_write

    def call(*args: Any, **kwargs: Any) -> Any:
        depth = lock._depth if lock._writer == _get_ident() else 0
        try:
            acquire()
            return fn(*args, **kwargs)
        finally:
            if lock._writer == _get_ident() and lock._depth > depth:
                release()
            else:  # interrupted inside acquire: give back whatever it took
                lock.abandon_write()
    call.__name__ = getattr(fn, "__name__", "call")
    call.__doc__ = getattr(fn, "__doc__", None)
    return call


def _shared(fn: Callable[..., Any], lock: ReadWriteLock) -> Callable[..., Any]:
    """fn under the read lock, with the lock-free fast path of acquire_read/release_read inlined
    (it is on every prediction's path)."""
    readers = lock._readers

    def call(*args: Any) -> Any:
        if not lock._writing:
            lock._enter()
            if not lock._writing:
                try:
                    return fn(*args)
                finally:
                    readers.pop()
                    if lock._writing and not readers:
                        with lock._readers_gone:
                            lock._readers_gone.notify_all()
            lock._leave()
        lock.acquire_read()
        try:
            return fn(*args)
        finally:
            lock.release_read()
    call.__name__ = getattr(fn, "__name__", "call")
    call.__doc__ = getattr(fn, "__doc__", None)
    return call


class GuardedNetwork:
    """The core network with every method behind `lock`: the inference methods (READERS) share
    it; every other method (training steps and epochs, gradients, optimizer state, parameter
    views) takes it alone. Attributes that are not methods pass through."""

    READERS = ("forward", "output", "activations", "evaluate_loss", "evaluate")

    def __init__(self, core: Any, lock: ReadWriteLock = None):
        self.core = core
        self.lock = ReadWriteLock() if lock is None else lock
        for name in self.READERS:
            setattr(self, name, _shared(getattr(core, name), self.lock))

    def __getattr__(self, name: str) -> Any:
        if name == "core":  # not yet set (e.g. during copy or unpickling)
            raise AttributeError(name)
        attr = getattr(self.core, name)
        if not callable(attr):
            return attr
        method = _exclusive(attr, self.lock)
        setattr(self, name, method)  # built once per method name
        return method
