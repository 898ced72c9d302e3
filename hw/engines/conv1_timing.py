"""conv1's layer cycles, stepped cycle by cycle: the image arriving, the reader, the patch
buffer (a pixel per cycle, or a pair with ``image_pixels`` 2), the window FIFO, the gather
and the serializer of the Conv engine interact in a way no closed form captures, so
:func:`conv1_cycles` steps them (a few lines of Python, no RTL) with the same rules as
:mod:`hw.engines.conv` and :mod:`hw.engines.image_loader`.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

#: Cycles from a window's write into conv1's window FIFO until it can be read
#: (``SyncFIFOBuffered``: its write, then its output register).
FIFO_LATENCY = 2
#: Pixel i of an image streamed without gaps is taken in cycle ``i - INPUT_LEAD`` of conv1
#: (cycle 0 is the sequencer's START state): the loader takes pixels from FETCH on, three
#: cycles before START.
INPUT_LEAD = 3
#: Cycles from a word's last pixel until the reader can use it: the loader's registered
#: write, the ``readable`` register, the read port's registered data.
WORD_READABLE = 3


@lru_cache(maxsize=256)   # a sweep asks for the same conv1 many times
def conv1_cycles(*, height: int, width: int, stride: int, kernel: int, pe_count: int,
                 channels: int, groups: int, tail: int, fifo_depth: int, ring: int = 0, passes: int = 1,
                 pixels_per_step: int = 1, fifo_latency: int = FIFO_LATENCY,
                 input_lead: int = INPUT_LEAD) -> int:
    """conv1's layer cycles: the image arriving a beat per cycle, the FM reader, the
    patch buffer, the window FIFO, the gather and the serializer of
    the Conv engine (:mod:`hw.engines.conv`) stepped cycle by cycle, then ``tail`` cycles from
    the last serializer beat to done.

    Pixel ``i`` of the image arrives in cycle ``i - input_lead`` of conv1 (an image
    streamed without gaps), unless the image's ring of ``ring`` words in buffer Q is full
    (0: the whole image fits): a pixel of word w is taken only while the reader is on word
    ``w - ring + 1`` or later. A word (``pe_count`` pixels) is readable ``WORD_READABLE``
    cycles after its last pixel arrived. A window written into the FIFO can be taken
    ``fifo_latency`` cycles later. The serializer walks each gathered batch ``passes``
    times (2 with ``packed_pw``: one window per packed PE per pass).

    With ``pixels_per_step`` 2 (``image_pixels``; 3 x 3 windows of stride 2) a beat, a
    reader step and a walk position are a pixel pair
    (:class:`~hw.blocks.pair_patch_buffer.PairPatchBuffer`): the walk has ``height`` rows of
    ``width / 2`` positions, none of them padding, and a window leaves every position of an
    odd row. "Pixel" below then means a pair, and a word holds ``pe_count / 2`` of them.
    """
    if pixels_per_step not in (1, 2):
        raise ValueError(f"pixels_per_step must be 1 or 2, not {pixels_per_step!r}")
    pad = kernel // 2
    padded_h, padded_w = height + 2 * pad, width + 2 * pad
    out_h = (padded_h - kernel) // stride + 1
    out_w = (padded_w - kernel) // stride + 1
    pairs = pixels_per_step == 2
    if pairs and (kernel, stride) != (3, 2):
        raise ValueError(f"the pair walk makes 3 x 3 windows of stride 2, not {kernel} x {kernel} "
                         f"of stride {stride}")
    # the walk: rows x columns of positions, the first and last ``walk_pad`` of each padding
    walk_h, walk_w, walk_pad = (height, width // 2, 0) if pairs else (padded_h, padded_w, pad)
    pixels = height * width // pixels_per_step
    per_word = pe_count // pixels_per_step            # pixels (pairs) per word
    ring = ring or -(-pixels // per_word)
    beats = kernel * kernel * channels * groups * passes   # serializer beats per block
    word_taken = {}                                   # word -> cycle its last pixel was taken

    def record_taken(i, at):
        if i % per_word == per_word - 1 or i == pixels - 1:
            word_taken[i // per_word] = at

    taken = min(input_lead + 1, pixels)               # pixels taken before the first cycle
    for i in range(taken):
        record_taken(i, i - input_lead)
    blocks = -(-out_h * out_w // pe_count)
    windows_left = out_h * out_w
    reader_active, reader_primed, pixel = True, False, 0
    row = col = 0
    window_valid = gather_full = serializing = False
    gather_slot = beat = blocks_done = 0
    fifo: deque = deque()                             # cycles at which each window is takeable
    cycle = 1                                         # the first cycle after START
    while True:
        word = pixel // per_word
        loader_takes = taken < pixels and taken // per_word < word + ring
        readable = word in word_taken and cycle >= word_taken[word] + WORD_READABLE
        reader_valid = reader_active and reader_primed and readable
        is_pad = row < walk_pad or row >= walk_h - walk_pad or col < walk_pad or col >= walk_w - walk_pad
        fifo_ready = len(fifo) < fifo_depth
        out_free = not window_valid or fifo_ready
        advance = out_free and (reader_valid or (is_pad and (row, col) != (0, 0)))
        reader_fire = reader_valid and out_free and not is_pad
        window_push = window_valid and fifo_ready
        take = gather_full and not serializing
        pop = bool(fifo) and fifo[0] <= cycle and not gather_full
        if serializing:
            beat += 1
            if beat == beats:
                serializing = False
                blocks_done += 1
                if blocks_done == blocks:
                    return cycle + tail
        if take:
            serializing, beat, gather_full = True, 0, False
        if advance:
            if pairs:
                window_valid = row % 2 == 1
            else:
                on_grid = stride == 1 or ((row - kernel + 1) % 2 == 0 and (col - kernel + 1) % 2 == 0)
                window_valid = row >= kernel - 1 and col >= kernel - 1 and on_grid
            if col == walk_w - 1:
                col, row = 0, (0 if row == walk_h - 1 else row + 1)
            else:
                col += 1
        elif fifo_ready:
            window_valid = False
        if pop:
            fifo.popleft()
            windows_left -= 1
            if gather_slot == pe_count - 1 or windows_left == 0:
                gather_full, gather_slot = True, 0
            else:
                gather_slot += 1
        if window_push:
            fifo.append(cycle + fifo_latency)
        if loader_takes:
            record_taken(taken, cycle)
            taken += 1
        reader_primed = reader_active
        if reader_fire:
            pixel += 1
            reader_active = pixel != pixels
        cycle += 1
