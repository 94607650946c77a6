"""Exceptions with one-line, user-facing messages that name the file or structure at fault."""


class SegQualityError(Exception):
    """Base class: every error the CLI and the Slicer module report as one clear line."""


class InputFileError(SegQualityError):
    """A file or folder is missing, unreadable, or not an image."""


class GeometryMismatchError(SegQualityError):
    """Two images that must share a voxel grid do not (size, spacing, origin or direction)."""


class LabelMapError(SegQualityError):
    """A label map is malformed, or an image holds a label value the label map does not name."""


class MaskValueError(SegQualityError):
    """A mask holds values a label image cannot hold (NaN, infinity, fractions, negatives)."""


class ImageValueError(SegQualityError):
    """An intensity image holds values no estimate can use (NaN or infinite voxels)."""


class OutputPathError(SegQualityError):
    """An output path would overwrite or remove an input, or cannot be written."""
