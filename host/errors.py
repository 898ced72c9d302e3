"""The driver's errors: each names the register bit or the condition that raised it."""

from __future__ import annotations

from rrm.csr_map import register


class DriverError(Exception):
    """Something the accelerator system reported or failed to do; the message names it."""


class NotAnAcceleratorError(DriverError):
    """``ID`` does not read the identity: the address is not the register block."""


class VersionError(DriverError):
    """The register map's major version is not the driver's."""


class SpecMismatchError(DriverError):
    """An artifact's spec hash differs from the build's ``SPEC_HASH``."""


class NotLoadedError(DriverError):
    """``STATUS.params_loaded`` is 0: no parameter set to classify with."""


class ImageShapeError(DriverError, ValueError):
    """Images that are not uint8 arrays of the shape ``SHAPE`` reports."""


class ResetDuringImageError(DriverError):
    """The core was reset (``RESETS`` counted a soft reset) while an image was in flight."""


class DeviceTimeout(DriverError, TimeoutError):
    """The accelerator did not do something within the time allowed."""


class StatusBitError(DriverError):
    """An error bit of ``STATUS`` is set; ``bit`` is its field name."""

    bit = ""

    def __init__(self, context: str = ""):
        doc = register("STATUS").field(self.bit).doc
        super().__init__(f"STATUS.{self.bit} is set: {doc}" + (f" ({context})" if context else ""))


class ParamStreamError(StatusBitError):
    bit = "param_error"


class ImageError(StatusBitError):
    bit = "image_error"


#: Every error bit of STATUS and the exception it becomes.
STATUS_ERRORS = {cls.bit: cls for cls in (ParamStreamError, ImageError)}
