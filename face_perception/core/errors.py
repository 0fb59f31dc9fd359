"""Named errors of the core library. Every failure a caller can act on has one."""


class FacePerceptionError(Exception):
    """Base class of every error raised on purpose by face_perception."""


class ConfigError(FacePerceptionError):
    """A configuration value is missing, of the wrong type or out of range."""


class ModelError(FacePerceptionError):
    """A model file is missing, unreadable, or does not match its declared spec."""


class ModelIntegrityError(ModelError):
    """A model file's sha256 differs from the one recorded in the manifest."""


class ImageError(FacePerceptionError):
    """An image cannot be used: empty, truncated, undecodable, wrong size or type."""


class DataError(FacePerceptionError):
    """Labeled data for evaluation, calibration or training is missing or unreadable."""


class GalleryError(FacePerceptionError):
    """A gallery file cannot be used (corrupt, not a gallery, unreadable) or a request to it is invalid."""


class EnrolmentError(FacePerceptionError):
    """A face cannot be enrolled: none found, too small, blurred or turned away; or the name is invalid."""
