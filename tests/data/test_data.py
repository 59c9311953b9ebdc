import numpy as np
from sklearn.datasets import load_digits

from toymodels import data


def test_digits_equals_scikit_learns_loader():
    # toymodels reads scikit-learn's bundled file itself (no scikit-learn import); the
    # reference is scikit-learn's own loader
    ref = load_digits()
    x, labels = data.digits(standardize=False)
    np.testing.assert_array_equal(np.asarray(x), ref.data / 16.0)
    np.testing.assert_array_equal(np.asarray(labels), ref.target)
    assert x.shape == (1797, 64) and labels.dtype == np.int32
