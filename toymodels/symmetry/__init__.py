"""Weight-space symmetry of MLPs: neuron operations (permute, split with ratio γ, zero-type
neurons, merge), the Fukumizu–Amari matrix and the saddle line, equal-loss valley paths,
counting of permutation points and symmetry-induced critical subspaces, and permutation
alignment by weight matching with loss barriers."""

from ._alignment import (
    apply_permutations as apply_permutations,
    linear_assignment as linear_assignment,
    weight_matching as weight_matching,
)
from ._counting import (
    FORMULA_STATUS as FORMULA_STATUS,
    enumerate_critical_subspaces as enumerate_critical_subspaces,
    enumerate_global_min_subspaces as enumerate_global_min_subspaces,
    enumerate_permutation_points as enumerate_permutation_points,
    num_critical_subspaces as num_critical_subspaces,
    num_global_min_subspaces as num_global_min_subspaces,
    num_global_minima as num_global_minima,
    num_permutation_points as num_permutation_points,
    stirling2 as stirling2,
)
from ._critical import (
    dense_hessian as dense_hessian,
    grad_inf_norm as grad_inf_norm,
    minimize_dense as minimize_dense,
    newton_polish as newton_polish,
)
from ._neurons import (
    MinimaSegment as MinimaSegment,
    add_zero_neurons as add_zero_neurons,
    check_mlp as check_mlp,
    flat_vector as flat_vector,
    fukumizu_amari_matrix as fukumizu_amari_matrix,
    incoming as incoming,
    line_curvature as line_curvature,
    merge_neurons as merge_neurons,
    minima_segment as minima_segment,
    outgoing as outgoing,
    permute_neurons as permute_neurons,
    remove_neurons as remove_neurons,
    saddle_line_direction as saddle_line_direction,
    split_neuron as split_neuron,
    width as width,
)
from ._valley import (
    interpolate as interpolate,
    loss_along as loss_along,
    loss_barrier as loss_barrier,
    transposition as transposition,
    valley_path as valley_path,
)
