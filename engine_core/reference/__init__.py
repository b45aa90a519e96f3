"""Pure-Python/numpy reference of engine_core's math, for tests and benchmarks only.

Same contracts as the Cython classes: ReferenceFeatures ~ features.FeatureEngine,
ReferenceEWRLS ~ ewrls.MultiHorizonEWRLS, ReferenceCalibration ~ the calibration of
combine.pyx, ReferenceEnsemble ~ ensemble.Ensemble.
"""

from engine_core.reference.calibration import ReferenceCalibration
from engine_core.reference.ensemble import ReferenceEnsemble
from engine_core.reference.ewrls import ReferenceEWRLS
from engine_core.reference.features import ReferenceFeatures

__all__ = ["ReferenceCalibration", "ReferenceEWRLS", "ReferenceEnsemble", "ReferenceFeatures"]
