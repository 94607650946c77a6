"""SegQualityReviewLib: the Slicer-free core of the SegQualityReview extension.

Subpackages by capability: ``io`` (reading images and label maps by name), ``metrics`` (spacing-aware
segmentation metrics on torch), ``stats`` (confidence intervals, tests, rankings), ``quality`` (the
ground-truth-free quality estimator), ``segmenters``, ``review`` and ``batch``. Nothing here imports
slicer, qt, ctk or vtk except ``mrml_bridge``.
"""

__version__ = "0.1.0"
