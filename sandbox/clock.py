"""Waking at a moment, to the tens of microseconds: what holds an answer for the simulated latency.

uvloop (libuv) counts timers in whole milliseconds from a time it cached at the start of the loop's turn, so a sleep
ends up to a millisecond early or late; slept again until the moment has passed (never early), an answer held 20 ms
left 0.2 to 0.4 ms late on average with the sandbox idle, more with it busy. On Linux one timerfd, armed for the
earliest moment asked, wakes the loop through its reader at that moment instead; elsewhere ``asyncio.sleep`` does, as
before. ``time.perf_counter`` is the clock (``CLOCK_MONOTONIC`` on Linux, as the timerfd's)."""

from __future__ import annotations

import asyncio
import ctypes
import heapq
import itertools
import math
import os
import sys
import time
import weakref

CLOCK_MONOTONIC = 1
TFD_TIMER_ABSTIME = 1
TFD_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC  # TFD_NONBLOCK and TFD_CLOEXEC are these


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    """The C library, when it has timerfd and ``perf_counter`` reads the clock the timerfd counts in."""
    if (
        not sys.platform.startswith("linux")
        or "CLOCK_MONOTONIC" not in time.get_clock_info("perf_counter").implementation
    ):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return libc


LIBC = _libc()


class Alarm:
    """One event loop's timerfd and the moments waited for on it (a heap: the earliest is the one armed)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, libc: ctypes.CDLL) -> None:
        self.libc = libc  # (no reference to the loop: the alarm, and its timerfd, go when the loop goes)
        self.fd = libc.timerfd_create(CLOCK_MONOTONIC, TFD_FLAGS)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        weakref.finalize(self, os.close, self.fd)
        self.waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self.order = itertools.count()  # (ties: first asked, first woken)
        self.armed_for = math.inf
        loop.add_reader(self.fd, self._ring)

    def _arm(self, moment: float) -> None:
        nanoseconds = math.ceil(moment * 1e9)  # (rounded up: never before the moment)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(nanoseconds // 1_000_000_000, nanoseconds % 1_000_000_000))
        if self.libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self.armed_for = moment

    def _ring(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:  # (armed again for later since it rang)
            pass
        self.armed_for = math.inf
        now = time.perf_counter()
        while self.waiting and self.waiting[0][0] <= now:
            waiter = heapq.heappop(self.waiting)[2]
            if not waiter.done():  # (a cancelled wait stays in the heap until its moment)
                waiter.set_result(None)
        if self.waiting:
            self._arm(self.waiting[0][0])

    async def until(self, moment: float) -> None:
        if moment <= time.perf_counter():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiting, (moment, next(self.order), waiter))
        if moment < self.armed_for:
            self._arm(moment)
        await waiter


_alarms: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Alarm] = weakref.WeakKeyDictionary()


async def sleep_until(moment: float) -> None:
    """Sleep until ``moment`` (``time.perf_counter``): never shorter, and on Linux later by the loop's wake-up only."""
    loop = asyncio.get_running_loop()
    alarm = _alarms.get(loop)
    if alarm is None and LIBC is not None:
        try:
            alarm = _alarms[loop] = Alarm(loop, LIBC)
        except (OSError, NotImplementedError):  # (no file descriptors left; a loop without add_reader)
            pass
    if alarm is not None:
        return await alarm.until(moment)
    while (left := moment - time.perf_counter()) > 0:  # asyncio.sleep may end a little early: sleep the rest again
        await asyncio.sleep(left)
