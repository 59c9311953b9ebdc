"""Problems: loss landscapes as immutable pytrees with `loss(params)` and `init(key)`."""

from ._activations import Activation as Activation, activation_function as activation_function
from ._base import (
    MSE as MSE,
    AbstractObjective as AbstractObjective,
    AbstractProblem as AbstractProblem,
    AbstractProblemTransform as AbstractProblemTransform,
    AbstractStochasticProblem as AbstractStochasticProblem,
    AbstractSupervisedProblem as AbstractSupervisedProblem,
    CrossEntropy as CrossEntropy,
    EquinoxProblem as EquinoxProblem,
    FunctionProblem as FunctionProblem,
)
from ._linear import (
    ScalarFactorization as ScalarFactorization,
    balanced_rank_one_init as balanced_rank_one_init,
    deep_linear_regression as deep_linear_regression,
    saxe_mode_strength as saxe_mode_strength,
    saxe_plateau_time as saxe_plateau_time,
    scalar_factorization as scalar_factorization,
    whitened_inputs as whitened_inputs,
)
from ._mlp import (
    MLPProblem as MLPProblem,
    mlp_apply as mlp_apply,
    mlp_classification as mlp_classification,
    mlp_init as mlp_init,
    mlp_regression as mlp_regression,
    num_params as num_params,
)
from ._rnn import LeakyRNN as LeakyRNN, Readout as Readout, leaky_rnn as leaky_rnn
from ._rnn_dms import DelayedMatchRNN as DelayedMatchRNN, delayed_match_rnn as delayed_match_rnn
from ._teacher_student import (
    TeacherStudentPopulation as TeacherStudentPopulation,
    gaussian_kernel as gaussian_kernel,
    teacher_student_finite as teacher_student_finite,
    teacher_student_population as teacher_student_population,
    two_layer_init as two_layer_init,
)
