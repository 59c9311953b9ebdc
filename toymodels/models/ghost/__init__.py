"""The ghost mechanism of abrupt learning (Dinc et al. 2025): the canonical model
$\\dot x = x^2 + r$ as a differentiable simulation, its closed-form predictions, gradient
descent on $r$ with learning-rate × seed sweeps and bisection for $\\eta_c$, and real
low-rank / full-rank RNNs on the delayed-activation task; all training is
`toymodels.dynamics.run` (vmapped over learning rate × seed). Fixed points, folds along
training and the local normal form of the ghosts inside trained RNNs (`_slow.py`:
`network_fixed_points`, `training_branch`, `normal_form`, `measure_passage`), and the
network's critical learning rate against the delay by grid bisection of vmapped runs
(`_critical_rnn.py`: `rnn_critical_lr`). Derivation:
`derivations/ghost.py`.
"""

from ._canonical import (
    CanonicalGhost as CanonicalGhost,
    CanonicalSweep as CanonicalSweep,
    TimeModel as TimeModel,
    bisect_critical_lr as bisect_critical_lr,
    canonical_ghost as canonical_ghost,
    continuous_escape_time as continuous_escape_time,
    continuous_trajectory as continuous_trajectory,
    critical_lr_vs_delay as critical_lr_vs_delay,
    lr_seed_sweep as lr_seed_sweep,
)
from ._critical_rnn import (
    DelayedActivation as DelayedActivation,
    RNNCriticalLR as RNNCriticalLR,
    rnn_critical_lr as rnn_critical_lr,
)
from ._rnn import (
    GhostPoint as GhostPoint,
    Outcome as Outcome,
    TrainHistory as TrainHistory,
    classify_runs as classify_runs,
    ghost_point as ghost_point,
    kappa_flow as kappa_flow,
    kappa_trajectory as kappa_trajectory,
    rnn_sweep as rnn_sweep,
    train_gd as train_gd,
)
from ._slow import (
    Checkpoints as Checkpoints,
    FoldCrossing as FoldCrossing,
    GhostPassage as GhostPassage,
    NormalForm as NormalForm,
    OutputDiagnostics as OutputDiagnostics,
    Passage as Passage,
    TrainingPath as TrainingPath,
    find_fold_crossing as find_fold_crossing,
    ghost_passage as ghost_passage,
    measure_passage as measure_passage,
    network_fixed_points as network_fixed_points,
    normal_form as normal_form,
    output_diagnostics as output_diagnostics,
    state_map as state_map,
    training_branch as training_branch,
    training_checkpoints as training_checkpoints,
    training_path as training_path,
    visited_states as visited_states,
)
from ._theory import (
    confidence_loss as confidence_loss,
    critical_lr as critical_lr,
    cusp_gradient as cusp_gradient,
    escape_time as escape_time,
    euler_critical_lr as euler_critical_lr,
    euler_optimal_r as euler_optimal_r,
    limit_loss as limit_loss,
    limit_loss_grad as limit_loss_grad,
    no_learning_r as no_learning_r,
    optimal_r as optimal_r,
)
