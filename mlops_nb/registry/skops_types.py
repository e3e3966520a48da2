"""The types mlops_nb lets skops load beyond skops' own defaults. Reviewed; never read from files.

skops refuses any type outside its default list unless the caller names it as trusted. A
loader that takes that list from the model file itself trusts the attacker (MLflow
GHSA-w582-9x45-8mpx), so the list lives here, in code, and changes only by review. Each entry
is a data container or a function reference that scikit-learn estimators keep in their
fitted state; none runs code when loaded. Found by fitting every estimator in
``sklearn.utils.all_estimators()`` and asking ``skops.io.get_untrusted_types``.

Two entries carry a caveat skops documents: ``Tree`` and ``TreePredictor`` index their node
arrays without bounds checks, so a crafted file could crash ``predict``. They stay listed
because every tree model needs them and the registry only loads bytes whose digest matches
what was registered.
"""

from __future__ import annotations

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # numpy / scipy / stdlib values held in fitted estimators
        "functools.partial",
        "numpy.dtype",
        "numpy.mean",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        "scipy.interpolate._bsplines.BSpline",
        # trees and tree ensembles
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # losses of generalized linear models
        "sklearn._loss.loss.HalfTweedieLoss",
        "sklearn._loss.loss.HalfTweedieLossIdentity",
        # calibration
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # clustering
        "sklearn.cluster._bisect_k_means._BisectingTree",
        "sklearn.cluster._kmeans._kmeans_single_elkan",
        "sklearn.cluster._kmeans._kmeans_single_lloyd",
        # feature selection score functions
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        # gaussian processes
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn.gaussian_process.kernels.ConstantKernel",
        "sklearn.gaussian_process.kernels.DotProduct",
        "sklearn.gaussian_process.kernels.ExpSineSquared",
        "sklearn.gaussian_process.kernels.Exponentiation",
        "sklearn.gaussian_process.kernels.Matern",
        "sklearn.gaussian_process.kernels.Product",
        "sklearn.gaussian_process.kernels.RBF",
        "sklearn.gaussian_process.kernels.RationalQuadratic",
        "sklearn.gaussian_process.kernels.Sum",
        "sklearn.gaussian_process.kernels.WhiteKernel",
        # nearest neighbours: search trees and distance metrics
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.metrics._dist_metrics.ChebyshevDistance32",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance32",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.HaversineDistance32",
        "sklearn.metrics._dist_metrics.HaversineDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance32",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance32",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        # neural networks
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # input validation used by histogram gradient boosting with categorical features
        "sklearn.utils.validation.check_array",
    }
)
