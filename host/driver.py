"""The host driver: load an artifact, classify images, read the counters, recover (docs/host.md).

:class:`Driver` talks to one accelerator system through a :class:`host.transport.Transport`
and the registers of :mod:`rrm.csr_map`. Opening it checks ``ID`` and ``VERSION`` and reads
the build's constants (spec hash, image shape, classes, layers). Every wait polls registers
against a deadline in device time and raises :class:`host.errors.DeviceTimeout` instead of
hanging; every error bit of ``STATUS`` becomes the exception of
:data:`host.errors.STATUS_ERRORS` that names it; :meth:`Driver.recover` soft-resets the
core and empties the streams (loaded parameters stay loaded).

Images go one at a time (the accelerator computes one image at a time): the driver sends
the frame, waits for ``IMAGES`` to count it, reads ``IRQ_STATUS``, ``IMAGE_CYCLES`` and
``LAYER_CYCLES``, and takes the result frame (the logits, then the class).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rrm import csr_map
from rrm.csr_map import register

from .errors import (STATUS_ERRORS, DeviceTimeout, DriverError, ImageError, ImageShapeError,
                     NotAnAcceleratorError, NotLoadedError, ResetDuringImageError, SpecMismatchError,
                     VersionError)
from .transport import Transport

#: Default time limits in device seconds. One image of rr-mobilenet-max takes a few ms at 200 MHz,
#: a parameter stream a few ms: a second is far beyond either.
IMAGE_TIMEOUT_S = 1.0
PARAM_TIMEOUT_S = 1.0
RESET_TIMEOUT_S = 0.01
#: Waiting on the interrupt, the driver still looks at the registers every this many polls
#: (a soft reset by someone else raises no interrupt).
INTERRUPT_SLICE = 100


@dataclass
class Classification:
    """A batch's results: ``logits`` (N x classes int64), ``classes`` (N), the cycles of each
    image (``image_cycles``) and of each layer (``layer_cycles``, N x layers)."""

    logits: np.ndarray
    classes: np.ndarray
    image_cycles: list = field(default_factory=list)
    layer_cycles: list = field(default_factory=list)


class Driver:
    """One accelerator system behind ``transport``. ``poll_s``: device seconds between
    register polls while waiting. ``use_interrupt`` (default: when the transport can): wait
    for an image on ``irq`` (``IRQ_ENABLE.image_done``) instead of sleeping between polls,
    waking at least every :data:`INTERRUPT_SLICE` polls to notice a reset."""

    def __init__(self, transport: Transport, *, poll_s: float = 2e-6, use_interrupt: bool | None = None):
        if not isinstance(transport, Transport):
            raise TypeError(f"transport must be a host.transport.Transport, not {transport!r}")
        if not poll_s > 0:
            raise ValueError(f"poll_s = {poll_s!r}: must be a positive number of seconds")
        if use_interrupt and not transport.supports_interrupt:
            raise ValueError(f"use_interrupt: {type(transport).__name__} cannot wait on the interrupt")
        self.transport, self.poll_s = transport, float(poll_s)
        self.use_interrupt = transport.supports_interrupt if use_interrupt is None else bool(use_interrupt)
        identity = self.read("ID")
        if identity != csr_map.IDENTITY:
            raise NotAnAcceleratorError(f"ID reads 0x{identity:08x}, not 0x{csr_map.IDENTITY:08x}: "
                                        f"this is not the rr-mobilenet register block")
        version = self.read("VERSION")
        major = register("VERSION").field("major").get(version)
        if major != csr_map.VERSION_MAJOR:
            raise VersionError(f"VERSION.major is {major}; this driver speaks register map version "
                               f"{csr_map.VERSION_MAJOR}")
        self.spec_hash = self.read("SPEC_HASH")
        shape, layout = self.read("SHAPE"), self.read("LAYOUT")
        self.input_size = self.field("SHAPE", "input_size", shape)
        self.input_channels = self.field("SHAPE", "input_channels", shape)
        self.result_bytes = self.field("SHAPE", "result_bytes", shape)
        self.classes = self.field("LAYOUT", "classes", layout)
        self.layers = self.field("LAYOUT", "layers", layout)
        self.param_beat_bytes = self.field("LAYOUT", "param_beat_bytes", layout)
        if self.result_bytes not in (4, 8) or self.param_beat_bytes not in (4, 8, 16):
            raise DriverError(f"SHAPE.result_bytes = {self.result_bytes}, LAYOUT.param_beat_bytes = "
                              f"{self.param_beat_bytes}: this driver knows 4- or 8-byte results and "
                              f"4-, 8- or 16-byte parameter beats")
        self.write("IRQ_ENABLE", register("IRQ_ENABLE").field("image_done").mask if self.use_interrupt else 0)

    # ---------------------------------------------------------------- registers
    def read(self, name: str, index: int = 0) -> int:
        return int(self.transport.read(register(name).address(index)))

    def write(self, name: str, value: int) -> None:
        self.transport.write(register(name).address(), int(value))

    @staticmethod
    def field(name: str, field_name: str, value: int) -> int:
        return register(name).field(field_name).get(value)

    def status(self) -> dict:
        """``STATUS`` as {field: 0/1}."""
        value = self.read("STATUS")
        return {f.name: f.get(value) for f in register("STATUS").fields}

    def check(self, context: str = "") -> dict:
        """``STATUS``; raises the exception of the first error bit that is set."""
        status = self.status()
        for bit, error in STATUS_ERRORS.items():
            if status[bit]:
                raise error(context)
        return status

    def _describe(self) -> str:
        status = self.status()
        return "STATUS: " + ", ".join(f"{name}={value}" for name, value in status.items())

    def _wait(self, done, timeout_s: float, what: str, interrupt: bool = False):
        """Poll ``done()`` until it returns something true (returned); DeviceTimeout naming
        ``what`` and the status after ``timeout_s`` device seconds. With ``interrupt``, sleep
        on ``irq`` (at most INTERRUPT_SLICE polls at a time) between polls."""
        deadline = self.transport.now() + timeout_s
        while True:
            result = done()
            if result:
                return result
            now = self.transport.now()
            if now >= deadline:
                raise DeviceTimeout(f"timed out after {timeout_s:g} s waiting for {what}; "
                                    f"{self._describe()}; Driver.recover() resets the core")
            if interrupt:
                self.transport.wait_interrupt(min(deadline - now, INTERRUPT_SLICE * self.poll_s))
            else:
                self.transport.sleep(self.poll_s)

    # ---------------------------------------------------------------- parameters
    def load(self, artifact, *, timeout_s: float = PARAM_TIMEOUT_S) -> None:
        """Stream ``artifact``'s parameters (rrm.param_stream) after checking that it was exported
        for this build's spec (SpecMismatchError naming both hashes)."""
        from rrm.memory_map import memory_map
        from rrm.param_stream import pack_parameters
        wanted = memory_map(artifact.spec).spec_hash
        if wanted != self.spec_hash:
            spec, hardware = artifact.spec, artifact.spec.hardware
            raise SpecMismatchError(
                f"the artifact is for spec {spec.preset or spec.network.name!r} ({hardware.pe_count} PEs x "
                f"{hardware.lanes} lanes on {hardware.device}; spec hash 0x{wanted:08x}); the accelerator "
                f"was built for spec hash 0x{self.spec_hash:08x} (SPEC_HASH)")
        self.load_stream(pack_parameters(artifact, beat_bits=8 * self.param_beat_bytes), timeout_s=timeout_s)

    def load_stream(self, beats, *, timeout_s: float = PARAM_TIMEOUT_S) -> None:
        """Stream parameter ``beats`` as they are: uint32, one per beat (shape (n,)) for 4-byte
        beats, else (n, LAYOUT.param_beat_bytes / 4), least significant first
        (rrm.param_stream.pack_parameters); ParamStreamError if the accelerator refuses them
        (STATUS.param_error), DeviceTimeout if it does not take them."""
        beats = np.asarray(beats)
        per_beat = self.param_beat_bytes // 4
        want = (1,) if per_beat == 1 else (2, per_beat)
        if beats.dtype != np.uint32 or beats.ndim != len(want) or beats.shape[1:] != want[1:] or len(beats) < 2:
            shape = "(n,)" if per_beat == 1 else f"(n, {per_beat})"
            raise ValueError(f"parameter beats of this build are {self.param_beat_bytes} bytes "
                             f"(LAYOUT.param_beat_bytes): a uint32 array of shape {shape}, n >= 2, "
                             f"not {beats.dtype} of shape {beats.shape}")
        self._wait(lambda: not self.status()["in_reset"], RESET_TIMEOUT_S, "the soft reset to end")
        try:
            self.transport.send_params(beats, timeout_s)
        except TimeoutError:
            raise DeviceTimeout(f"timed out after {timeout_s:g} s streaming {len(beats)} parameter "
                                f"beats; {self._describe()}") from None
        status = self._wait(lambda: (lambda s: s if s["params_loaded"] or s["param_error"] else None)(
            self.status()), timeout_s, "STATUS.params_loaded or STATUS.param_error")
        self.check(f"after a stream of {len(beats)} beats")
        if not status["params_loaded"]:
            raise NotLoadedError("the parameter stream was taken but STATUS.params_loaded is 0")

    # ---------------------------------------------------------------- images
    def check_images(self, images) -> np.ndarray:
        """``images`` as uint8 N x H x W x C of this build's shape, or ImageShapeError."""
        images = np.asarray(images)
        want = (self.input_size, self.input_size, self.input_channels)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != want:
            raise ImageShapeError(f"images must be uint8 N x {want[0]} x {want[1]} x {want[2]} "
                                  f"(SHAPE), not {images.dtype} of shape {images.shape}")
        return images

    def classify(self, images, *, timeout_s: float = IMAGE_TIMEOUT_S) -> Classification:
        """Classify ``images`` (uint8 N x H x W x C) one after another; ``timeout_s`` per image."""
        images = self.check_images(images)
        logits, classes, cycles, layer_cycles = [], [], [], []
        for index, image in enumerate(images):
            out = self.run_frames([image.tobytes()], timeout_s=timeout_s, what=f"image {index}")
            logits.append(out[0])
            classes.append(out[1])
            cycles.append(out[2])
            layer_cycles.append(out[3])
        return Classification(np.asarray(logits, dtype=np.int64).reshape(len(images), self.classes),
                              np.asarray(classes, dtype=np.int64), cycles, layer_cycles)

    def run_frames(self, frames: list, *, timeout_s: float = IMAGE_TIMEOUT_S, what: str = "the image"):
        """Send ``frames`` (bytes each, ``tlast`` on each one's end) that together make one image
        and collect it: (logits, class, image cycles, layer cycles). The low-level step of
        :meth:`classify` (which sends one frame per image)."""
        status = self.status()
        if status["in_reset"]:
            self._wait(lambda: not self.status()["in_reset"], RESET_TIMEOUT_S, "the soft reset to end")
        if not status["params_loaded"]:
            raise NotLoadedError(f"{what}: STATUS.params_loaded is 0; load an artifact first")
        images_before, resets_before = self.read("IMAGES"), self.read("RESETS")
        self.write("IRQ_STATUS", (1 << len(register("IRQ_STATUS").fields)) - 1)
        self.transport.start_results(self.classes + 1, self.result_bytes)
        for frame in frames:
            self.transport.send_image(bytes(frame))

        def finished():
            if self.read("RESETS") != resets_before:
                raise ResetDuringImageError(f"{what}: the core was soft-reset while it was in flight "
                                            f"(RESETS counted it); no result was produced")
            return self.read("IMAGES") != images_before

        self._wait(finished, timeout_s, f"{what} to finish (IMAGES to count it)", interrupt=self.use_interrupt)
        events = self.read("IRQ_STATUS")
        try:
            raw = self.transport.finish_results(timeout_s)
        except TimeoutError:
            raise DeviceTimeout(f"{what}: finished (IMAGES counted it) but its result frame did not "
                                f"arrive within {timeout_s:g} s; {self._describe()}") from None
        words = np.frombuffer(raw, dtype=f"<i{self.result_bytes}").astype(np.int64)
        if len(words) != self.classes + 1:
            raise DriverError(f"{what}: a result frame of {len(words)} beats, expected "
                              f"{self.classes + 1} (LAYOUT.classes logits and the class)")
        if register("IRQ_STATUS").field("image_error").get(events):
            raise ImageError(what)
        cycles = self.read("IMAGE_CYCLES")
        layer_cycles = [self.read("LAYER_CYCLES", i) for i in range(self.layers)]
        return words[:-1].tolist(), int(words[-1]), cycles, layer_cycles

    # ---------------------------------------------------------------- recovery
    def soft_reset(self) -> None:
        """Pulse CONTROL.soft_reset and wait until STATUS.in_reset clears."""
        self.write("CONTROL", register("CONTROL").field("soft_reset").mask)
        self._wait(lambda: not self.status()["in_reset"], RESET_TIMEOUT_S, "the soft reset to end")

    def recover(self) -> dict:
        """Soft-reset the core and empty the streams after an error or a timeout; the loaded
        parameters stay. Returns STATUS."""
        self.soft_reset()
        self.transport.reset_streams()
        return self.status()
