"""Frame indices of a video read as a stream, from its packets' and frames' presentation timestamps
(:func:`.video_in.read_video`)."""

from __future__ import annotations

import heapq


class FrameClock:
    """Frame indices from presentation times: each decoded frame's index is the rank of its timestamp among
    those of the packets demuxed so far, counting those already passed.

    A decoder hands frames out in presentation order, and it has been given every packet of an earlier frame
    by the time it hands out a later one; so when a frame with timestamp ``t`` comes out, the pending
    timestamps below ``t`` belong to frames that will never come: they are counted as lost and keep their
    indices. Pending timestamps are those fed to the decoder and not yet output, a handful at any time.

    Packets without a timestamp, or a frame whose timestamp no packet had, switch the clock to counting
    decoded frames for the rest of the video (the numbering of a sequential read). So does a packet whose
    timestamp is not above that of a frame already output (``restarted``: clips joined end to end, as MPEG-TS
    recordings and HLS segments are, each starting at 0; ranked, the second clip's timestamps were taken for
    lost frames of the first and its frames dropped). So do timestamps in decode
    order from a decoder that reorders frames (``reorders``): an AVI stores no presentation time, and its
    timestamps count the chunks, so that with B-frames they are not the frames' order (H.264 in AVI lost every
    other frame and put the rest on other frames' indices).
    """

    def __init__(self) -> None:
        self.pending: list[int] = []  # heap of the timestamps fed and not yet output
        self.passed = 0  # timestamps taken off the heap, output or lost
        self.last = -1  # the last index handed out
        self.last_pts: int | None = None  # and its timestamp
        self.ranked = True
        self.in_order = True  # every timestamp fed so far was above the one before it (decode order)
        self.fed_last: int | None = None
        self.decode_order = False  # counting because the timestamps were found to be in decode order
        self.restarted = False  # counting because the timestamps went back below an output frame's (joined clips)
        self.lost = 0
        self.first_lost: int | None = None

    def add(self, pts: int | None) -> None:
        """A packet of a frame the decoder will output (its ``pts``; None: no timestamp)."""
        if pts is None:
            self.ranked = False
        elif self.ranked:
            if self.last_pts is not None and pts <= self.last_pts:
                # No frame of a later packet can come out before one already output: the clock restarted.
                self.ranked, self.restarted = False, True
                self.pending.clear()
                return
            if self.fed_last is not None and pts <= self.fed_last:
                self.in_order = False
            self.fed_last = int(pts)
            heapq.heappush(self.pending, int(pts))

    def index(self, pts: int | None, reorders: bool = False) -> int | None:
        """The index of a decoded frame with timestamp ``pts``; None for a frame that comes out after a later
        one (a decoder recovering from damage): its index was given up as lost, and the frame is dropped so
        that indices keep increasing. ``reorders``: the decoder hands frames out in another order than it
        takes them (B-frames)."""
        idx = self.last + 1
        if self.ranked and pts is not None and reorders and self.in_order and self.pending and (
                self.pending[0] < pts or (self.last_pts is not None and pts <= self.last_pts)):
            # A frame skipped or repeated by a reordering decoder whose packets' timestamps only ever went up:
            # they are in decode order, not presentation times (not damage), and frames are counted.
            self.ranked, self.decode_order = False, True
            self.pending.clear()
        if self.ranked and pts is not None:
            if self.last_pts is not None and pts <= self.last_pts:
                return None
            below = []
            while self.pending and self.pending[0] < pts:
                below.append(heapq.heappop(self.pending))
            if self.pending and self.pending[0] == pts:
                heapq.heappop(self.pending)
                self._lose(len(below))
                self.passed += len(below) + 1
                idx = self.passed - 1
                self.last_pts = pts
            else:  # a timestamp no packet had: the decoder invents them, count frames instead
                self.ranked = False
        elif pts is None:
            self.ranked = False
        self.last = max(idx, self.last + 1)
        return self.last

    def finish(self) -> None:
        """End of the video: every timestamp still pending is a frame the decoder never output."""
        if self.ranked:
            self._lose(len(self.pending))
            self.passed += len(self.pending)
        self.pending.clear()

    def frames(self) -> int | None:
        """After :meth:`finish`: the video's frame count, lost frames at its end included; None when the clock
        counted decoded frames (then the lost ones at the end are not known)."""
        return self.passed if self.ranked else None

    def _lose(self, n: int) -> None:
        if n and self.first_lost is None:
            self.first_lost = self.passed
        self.lost += n


__all__ = ["FrameClock"]
